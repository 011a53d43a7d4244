using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Push.Gateway.Connections;
using Push.Gateway.Control;
using Push.Gateway.Diagnostics;
using Push.Gateway.Hosting;
using Push.Gateway.Routing;
using Push.Gateway.WebSockets;
using Push.Hosting;
using Push.V1;

namespace Push.Gateway.Grpc;

/// <summary>
/// The control API (GatewayClient's surface). Validates each request, then lets <see cref="ClusterRouter"/> run it on
/// the owning gateway or on every gateway, <see cref="IPushRouting"/> send group, uid and all pushes to the gateways
/// that may host targets, and <see cref="ConnectionTable"/> do the local part.
/// </summary>
internal sealed class GatewayGrpcService(
    ConnectionTable table,
    ClusterRouter router,
    GatewayMetrics metrics,
    DrainCoordinator drain,
    StatusReporter status,
    Push.Gateway.Resume.MovedClients moved,
    IPushRouting routing,
    IOptions<RoutingOptions> routingOptions,
    IOptions<GatewayOptions> options) : GatewayService.GatewayServiceBase
{
    private GatewayOptions O => options.Value;

    // A join or bind forwarded to its owner may wait there for a peer's interest lease to run out (mesh routing).
    private TimeSpan SyncAllowance => routingOptions.Value.InterestLease * 1.2 + TimeSpan.FromMilliseconds(100);

    // ---------------- sends ----------------

    public override Task<SendToClientResponse> SendToClient(SendToClientRequest request, ServerCallContext context)
    {
        ClusterRouter.ParseClientId(request.ClientId);
        var frame = Payload.Encode(request.DataCase == SendToClientRequest.DataOneofCase.Text, request.Text, request.DataCase == SendToClientRequest.DataOneofCase.Binary ? request.Binary : null, O.MaxPushSize);
        frame.PushId = ClusterRouter.PushId(context);
        var start = Stopwatch.GetTimestamp();
        return router.OnOwnerAsync(request.ClientId, context,
            c =>
            {
                var result = c.Push(frame);
                var n = result == SendResult.Queued ? 1 : 0;
                metrics.Push("client", n);
                metrics.PushDuration("client", Stopwatch.GetElapsedTime(start).TotalSeconds);
                return n == 1 ? new SendToClientResponse { Delivered = 1 } : throw NotQueued(request.ClientId, result);
            },
            (client, o) => client.SendToClientAsync(request, o));
    }

    public override async Task<SendToAllResponse> SendToAll(SendToAllRequest request, ServerCallContext context)
    {
        RemovedFields.ThrowIfClientIds(request);
        var frame = Payload.Encode(request.DataCase == SendToAllRequest.DataOneofCase.Text, request.Text, request.DataCase == SendToAllRequest.DataOneofCase.Binary ? request.Binary : null, O.MaxPushSize);
        frame.PushId = ClusterRouter.PushId(context);
        var exclude = LocalExclusions(request.ExcludeClientIds);
        var start = Stopwatch.GetTimestamp();
        var (delivered, reach) = await routing.SendAsync(new RoutedPush(RoutedKind.All, [], request, frame.PushId), context, () =>
        {
            var n = table.SendToAll(exclude, frame);
            metrics.Push("all", n);
            return n;
        }).ConfigureAwait(false);
        metrics.PushDuration("all", Stopwatch.GetElapsedTime(start).TotalSeconds);
        return new SendToAllResponse { Delivered = delivered, Reach = reach };
    }

    public override async Task<SendToClientsResponse> SendToClients(SendToClientsRequest request, ServerCallContext context)
    {
        // An empty list is a filter that matched nobody: refused, never read as "everyone".
        if (request.ClientIds.Count == 0)
        {
            throw Errors.InvalidField("client_ids", "must name at least one client (SendToAll sends to everyone)");
        }
        var only = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in request.ClientIds)
        {
            only.Add(ClusterRouter.ParseClientId(id, "client_ids").GatewayId);
        }
        var frame = Payload.Encode(request.DataCase == SendToClientsRequest.DataOneofCase.Text, request.Text, request.DataCase == SendToClientsRequest.DataOneofCase.Binary ? request.Binary : null, O.MaxPushSize);
        frame.PushId = ClusterRouter.PushId(context);
        var exclude = LocalExclusions(request.ExcludeClientIds);
        var start = Stopwatch.GetTimestamp();
        List<string>? movedAway = null;
        var (results, reach) = await router.ScatterAsync(context, () =>
        {
            var n = 0;
            foreach (var id in request.ClientIds.Distinct(StringComparer.Ordinal))
            {
                var c = table.Find(id);
                if (c is null && moved.TryGet(id, out _))
                {
                    (movedAway ??= []).Add(id); // resumed on another gateway: followed below
                }
                else if (c is not null && (exclude is null || !exclude.Contains(c.Sequence)) && c.Push(frame) == SendResult.Queued)
                {
                    n++;
                }
            }
            metrics.Push("clients", n);
            return new SendToClientsResponse { Delivered = n };
        }, (client, o) => client.SendToClientsAsync(request, o), only).ConfigureAwait(false);
        if (movedAway is not null)
        {
            results.Add(new SendToClientsResponse { Delivered = await FollowMovedAsync(movedAway, request, context).ConfigureAwait(false) });
        }
        metrics.PushDuration("clients", Stopwatch.GetElapsedTime(start).TotalSeconds);
        return new SendToClientsResponse { Delivered = results.Sum(r => r.Delivered), Reach = reach };
    }

    public override async Task<SendToUidResponse> SendToUid(SendToUidRequest request, ServerCallContext context)
    {
        ValidateNames(request.Uids, "uids");
        var frame = Payload.Encode(request.DataCase == SendToUidRequest.DataOneofCase.Text, request.Text, request.DataCase == SendToUidRequest.DataOneofCase.Binary ? request.Binary : null, O.MaxPushSize);
        frame.PushId = ClusterRouter.PushId(context);
        var start = Stopwatch.GetTimestamp();
        var (delivered, reach) = await routing.SendAsync(new RoutedPush(RoutedKind.Uid, request.Uids, request, frame.PushId), context, () =>
        {
            var n = table.SendToUids(request.Uids, frame);
            metrics.Push("uid", n);
            return n;
        }).ConfigureAwait(false);
        metrics.PushDuration("uid", Stopwatch.GetElapsedTime(start).TotalSeconds);
        return new SendToUidResponse { Delivered = delivered, Reach = reach };
    }

    public override async Task<SendToGroupResponse> SendToGroup(SendToGroupRequest request, ServerCallContext context)
    {
        ValidateNames(request.Groups, "groups");
        var frame = Payload.Encode(request.DataCase == SendToGroupRequest.DataOneofCase.Text, request.Text, request.DataCase == SendToGroupRequest.DataOneofCase.Binary ? request.Binary : null, O.MaxPushSize);
        frame.PushId = ClusterRouter.PushId(context);
        var exclude = LocalExclusions(request.ExcludeClientIds);
        var start = Stopwatch.GetTimestamp();
        var (delivered, reach) = await routing.SendAsync(new RoutedPush(RoutedKind.Group, request.Groups, request, frame.PushId), context, () =>
        {
            var n = table.SendToGroups(request.Groups, exclude, frame);
            metrics.Push("group", n);
            return n;
        }).ConfigureAwait(false);
        metrics.PushDuration("group", Stopwatch.GetElapsedTime(start).TotalSeconds);
        return new SendToGroupResponse { Delivered = delivered, Reach = reach };
    }

    public override async Task<SendBatchResponse> SendBatch(SendBatchRequest request, ServerCallContext context)
    {
        if (request.Items.Count == 0)
        {
            throw Errors.InvalidField("items", "must not be empty");
        }
        var frames = new OutboundFrame[request.Items.Count];
        for (var i = 0; i < request.Items.Count; i++)
        {
            var item = request.Items[i];
            var targets = (item.ClientId.Length > 0 ? 1 : 0) + (item.Uids.Count > 0 ? 1 : 0) + (item.Groups.Count > 0 ? 1 : 0) + (item.All ? 1 : 0);
            if (targets != 1)
            {
                throw Errors.InvalidField($"items[{i}]", "set exactly one target: client_id, uids, groups or all");
            }
            if (item.ClientId.Length > 0)
            {
                ClusterRouter.ParseClientId(item.ClientId, $"items[{i}].client_id");
            }
            ValidateNames(item.Uids, $"items[{i}].uids", allowEmpty: true);
            ValidateNames(item.Groups, $"items[{i}].groups", allowEmpty: true);
            frames[i] = Payload.Encode(item.DataCase == BatchItem.DataOneofCase.Text, item.Text, item.DataCase == BatchItem.DataOneofCase.Binary ? item.Binary : null, O.MaxPushSize, field: $"items[{i}].");
            frames[i].PushId = ClusterRouter.PushId(context) + (ulong)i * 2; // one id per item (still odd, never 0)
        }
        var start = Stopwatch.GetTimestamp();
        var (delivered, reach) = await routing.SendAsync(BatchRoute(request, frames[0].PushId), context, () =>
        {
            var n = BatchDelivery.Deliver(table, request.Items, frames);
            metrics.Push("batch", n);
            return n;
        }).ConfigureAwait(false);
        metrics.PushDuration("batch", Stopwatch.GetElapsedTime(start).TotalSeconds);
        return new SendBatchResponse { Delivered = delivered, Reach = reach };
    }

    // A batch goes where its group and uid items' members are; an item for everyone or for a client id (which may
    // have moved to any gateway) sends the whole batch to every gateway.
    private static RoutedPush BatchRoute(SendBatchRequest request, ulong pushId)
    {
        var names = new List<string>();
        foreach (var item in request.Items)
        {
            if (item.All || item.ClientId.Length > 0)
            {
                return new RoutedPush(RoutedKind.All, [], request, pushId);
            }
            names.AddRange(item.Groups);
            names.AddRange(item.Uids);
        }
        return new RoutedPush(RoutedKind.Batch, names.Distinct(StringComparer.Ordinal).ToArray(), request, pushId);
    }

    // Sends to the clients named in a SendToClients that moved from this gateway to another (one forwarded call each).
    private async Task<long> FollowMovedAsync(List<string> ids, SendToClientsRequest request, ServerCallContext context)
    {
        long n = 0;
        foreach (var id in ids)
        {
            var one = new SendToClientRequest { ClientId = id };
            if (request.DataCase == SendToClientsRequest.DataOneofCase.Binary)
            {
                one.Binary = request.Binary;
            }
            else
            {
                one.Text = request.Text;
            }
            try
            {
                n += (await router.OnOwnerAsync(id, context, _ => new SendToClientResponse(), (client, o) => client.SendToClientAsync(one, o)).ConfigureAwait(false)).Delivered;
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.NotFound or StatusCode.Unavailable or StatusCode.ResourceExhausted)
            {
                metrics.PushUndelivered("moved_unreachable"); // counted like any connection a push could not reach
            }
        }
        return n;
    }

    // ---------------- one client ----------------

    public override Task<CloseClientResponse> CloseClient(CloseClientRequest request, ServerCallContext context)
    {
        OutboundFrame? last = request.DataCase == CloseClientRequest.DataOneofCase.None
            ? null
            : Payload.Encode(request.DataCase == CloseClientRequest.DataOneofCase.Text, request.Text, request.DataCase == CloseClientRequest.DataOneofCase.Binary ? request.Binary : null, O.MaxPushSize);
        return router.OnOwnerAsync(request.ClientId, context, c =>
        {
            c.Close(CloseCodes.Normal, "closed by server", lastMessage: last);
            return new CloseClientResponse();
        }, (client, o) => client.CloseClientAsync(request, o));
    }

    public override Task<DestroyClientResponse> DestroyClient(DestroyClientRequest request, ServerCallContext context)
        => router.OnOwnerAsync(request.ClientId, context, c =>
        {
            c.Abort("destroyed by server", forGood: true);
            return new DestroyClientResponse();
        }, (client, o) => client.DestroyClientAsync(request, o));

    public override Task<IsOnlineResponse> IsOnline(IsOnlineRequest request, ServerCallContext context)
        => router.OnOwnerAsync(request.ClientId, context, _ => new IsOnlineResponse { Online = true }, (client, o) => client.IsOnlineAsync(request, o), () => new IsOnlineResponse { Online = false });

    public override async Task<BindUidResponse> BindUid(BindUidRequest request, ServerCallContext context)
    {
        ValidateName(request.Uid, "uid");
        var here = false;
        var r = await router.OnOwnerAsync(request.ClientId, context, c =>
        {
            table.BindUid(c, request.Uid);
            here = true;
            return new BindUidResponse();
        }, (client, o) => client.BindUidAsync(request, o), slower: SyncAllowance).ConfigureAwait(false);
        if (here)
        {
            await routing.SyncAsync(context.CancellationToken).ConfigureAwait(false); // a push after the answer reaches it
        }
        return r;
    }

    public override Task<UnbindUidResponse> UnbindUid(UnbindUidRequest request, ServerCallContext context)
        => router.OnOwnerAsync(request.ClientId, context, c =>
        {
            if (request.Uid.Length > 0 && c.Uid is not null && !string.Equals(c.Uid, request.Uid, StringComparison.Ordinal))
            {
                throw Errors.Create(Google.Rpc.Code.FailedPrecondition, ErrorReason.InvalidField, $"uid: client_id '{request.ClientId}' is bound to another uid, not '{request.Uid}'", "uid");
            }
            table.UnbindUid(c);
            return new UnbindUidResponse();
        }, (client, o) => client.UnbindUidAsync(request, o));

    public override Task<GetUidByClientIdResponse> GetUidByClientId(GetUidByClientIdRequest request, ServerCallContext context)
        => router.OnOwnerAsync(request.ClientId, context, c => new GetUidByClientIdResponse { Uid = c.Uid ?? string.Empty }, (client, o) => client.GetUidByClientIdAsync(request, o));

    public override async Task<JoinGroupResponse> JoinGroup(JoinGroupRequest request, ServerCallContext context)
    {
        ValidateName(request.Group, "group");
        var here = false;
        var r = await router.OnOwnerAsync(request.ClientId, context, c =>
        {
            if (!table.JoinGroup(c, request.Group, O.MaxGroupsPerConnection))
            {
                throw Errors.LimitExceeded("group", $"client is already in {O.MaxGroupsPerConnection} groups (Gateway:MaxGroupsPerConnection)");
            }
            here = true;
            return new JoinGroupResponse();
        }, (client, o) => client.JoinGroupAsync(request, o), slower: SyncAllowance).ConfigureAwait(false);
        if (here)
        {
            await routing.SyncAsync(context.CancellationToken).ConfigureAwait(false); // a push after the answer reaches it
        }
        return r;
    }

    public override Task<LeaveGroupResponse> LeaveGroup(LeaveGroupRequest request, ServerCallContext context)
    {
        ValidateName(request.Group, "group");
        return router.OnOwnerAsync(request.ClientId, context, c =>
        {
            table.LeaveGroup(c, request.Group);
            return new LeaveGroupResponse();
        }, (client, o) => client.LeaveGroupAsync(request, o));
    }

    public override async Task<UngroupResponse> Ungroup(UngroupRequest request, ServerCallContext context)
    {
        ValidateName(request.Group, "group");
        var (results, reach) = await router.ScatterAsync(context, () => new UngroupResponse { Removed = table.Ungroup(request.Group) }, (client, o) => client.UngroupAsync(request, o), interest: (InterestKind.Group, [request.Group])).ConfigureAwait(false);
        return new UngroupResponse { Removed = results.Sum(r => r.Removed), Reach = reach };
    }

    public override Task<SetSessionResponse> SetSession(SetSessionRequest request, ServerCallContext context)
        => router.OnOwnerAsync(request.ClientId, context, c =>
        {
            if (!SessionStore.Write(c, request.Session, merge: false, O.MaxSessionSize, workerHasIt: false))
            {
                throw Errors.LimitExceeded("session", $"larger than Gateway:MaxSessionSize ({O.MaxSessionSize})");
            }
            return new SetSessionResponse();
        }, (client, o) => client.SetSessionAsync(request, o));

    public override Task<UpdateSessionResponse> UpdateSession(UpdateSessionRequest request, ServerCallContext context)
        => router.OnOwnerAsync(request.ClientId, context, c =>
        {
            if (!SessionStore.Write(c, request.Session, merge: true, O.MaxSessionSize, workerHasIt: false))
            {
                throw Errors.LimitExceeded("session", $"larger than Gateway:MaxSessionSize ({O.MaxSessionSize})");
            }
            return new UpdateSessionResponse();
        }, (client, o) => client.UpdateSessionAsync(request, o));

    public override Task<GetSessionResponse> GetSession(GetSessionRequest request, ServerCallContext context)
        => router.OnOwnerAsync(request.ClientId, context, c => new GetSessionResponse { Session = { SessionStore.Read(c) } }, (client, o) => client.GetSessionAsync(request, o));

    // ---------------- queries ----------------

    public override async Task<IsUidOnlineResponse> IsUidOnline(IsUidOnlineRequest request, ServerCallContext context)
    {
        ValidateName(request.Uid, "uid");
        var (results, reach) = await router.ScatterAsync(context, () => new IsUidOnlineResponse { Online = table.HasUid(request.Uid) }, (client, o) => client.IsUidOnlineAsync(request, o), interest: (InterestKind.Uid, [request.Uid])).ConfigureAwait(false);
        return new IsUidOnlineResponse { Online = results.Any(r => r.Online), Reach = reach };
    }

    public override async Task<IsUidsOnlineResponse> IsUidsOnline(IsUidsOnlineRequest request, ServerCallContext context)
    {
        ValidateNames(request.Uids, "uids");
        var (results, reach) = await router.ScatterAsync(context, () =>
        {
            var r = new IsUidsOnlineResponse();
            foreach (var u in request.Uids)
            {
                r.Online[u] = table.HasUid(u);
            }
            return r;
        }, (client, o) => client.IsUidsOnlineAsync(request, o), interest: (InterestKind.Uid, request.Uids)).ConfigureAwait(false);
        var merged = new IsUidsOnlineResponse { Reach = reach };
        foreach (var u in request.Uids)
        {
            merged.Online[u] = results.Any(r => r.Online.TryGetValue(u, out var on) && on);
        }
        return merged;
    }

    public override async Task<GetClientIdByUidResponse> GetClientIdByUid(GetClientIdByUidRequest request, ServerCallContext context)
    {
        ValidateName(request.Uid, "uid");
        var (results, reach) = await router.ScatterAsync(context, () => new GetClientIdByUidResponse { ClientIds = { table.UidMembers(request.Uid).Select(c => c.ClientId) } }, (client, o) => client.GetClientIdByUidAsync(request, o), interest: (InterestKind.Uid, [request.Uid])).ConfigureAwait(false);
        return new GetClientIdByUidResponse { ClientIds = { results.SelectMany(r => r.ClientIds).Order(StringComparer.Ordinal) }, Reach = reach };
    }

    public override async Task<BatchGetClientIdByUidResponse> BatchGetClientIdByUid(BatchGetClientIdByUidRequest request, ServerCallContext context)
    {
        ValidateNames(request.Uids, "uids");
        var (results, reach) = await router.ScatterAsync(context, () =>
        {
            var r = new BatchGetClientIdByUidResponse();
            foreach (var u in request.Uids.Distinct(StringComparer.Ordinal))
            {
                var ids = table.UidMembers(u);
                if (ids.Length > 0)
                {
                    r.ClientIds[u] = new ClientIdList { ClientIds = { ids.Select(c => c.ClientId) } };
                }
            }
            return r;
        }, (client, o) => client.BatchGetClientIdByUidAsync(request, o), interest: (InterestKind.Uid, request.Uids)).ConfigureAwait(false);
        var merged = new BatchGetClientIdByUidResponse { Reach = reach };
        foreach (var (uid, list) in results.SelectMany(r => r.ClientIds))
        {
            if (!merged.ClientIds.TryGetValue(uid, out var existing))
            {
                merged.ClientIds[uid] = existing = new ClientIdList();
            }
            existing.ClientIds.AddRange(list.ClientIds);
        }
        return merged;
    }

    public override async Task<GetClientSessionsByGroupResponse> GetClientSessionsByGroup(GetClientSessionsByGroupRequest request, ServerCallContext context)
    {
        ValidateName(request.Group, "group");
        var (results, reach) = await router.ScatterAsync(context, () => Sessions<GetClientSessionsByGroupResponse>(table.GroupMembers(request.Group), (r, id, s) => r.Sessions[id] = s), (client, o) => client.GetClientSessionsByGroupAsync(request, o), interest: (InterestKind.Group, [request.Group])).ConfigureAwait(false);
        var merged = new GetClientSessionsByGroupResponse { Reach = reach };
        foreach (var r in results)
        {
            merged.Sessions.Add(r.Sessions);
        }
        return merged;
    }

    public override async Task<GetAllClientSessionsResponse> GetAllClientSessions(GetAllClientSessionsRequest request, ServerCallContext context)
    {
        if (request.Group.Length > 0)
        {
            ValidateName(request.Group, "group");
        }
        var (results, reach) = await router.ScatterAsync(context, () => Sessions<GetAllClientSessionsResponse>(request.Group.Length > 0 ? table.GroupMembers(request.Group) : table.All, (r, id, s) => r.Sessions[id] = s), (client, o) => client.GetAllClientSessionsAsync(request, o), interest: GroupInterest(request.Group)).ConfigureAwait(false);
        var merged = new GetAllClientSessionsResponse { Reach = reach };
        foreach (var r in results)
        {
            merged.Sessions.Add(r.Sessions);
        }
        return merged;
    }

    public override async Task<GetClientCountByGroupResponse> GetClientCountByGroup(GetClientCountByGroupRequest request, ServerCallContext context)
    {
        if (request.Group.Length > 0)
        {
            ValidateName(request.Group, "group");
        }
        var (results, reach) = await router.ScatterAsync(context, () => new GetClientCountByGroupResponse { Count = request.Group.Length > 0 ? table.GroupSize(request.Group) : table.Count }, (client, o) => client.GetClientCountByGroupAsync(request, o), interest: GroupInterest(request.Group)).ConfigureAwait(false);
        return new GetClientCountByGroupResponse { Count = results.Sum(r => r.Count), Reach = reach };
    }

    public override async Task<BatchGetClientCountByGroupResponse> BatchGetClientCountByGroup(BatchGetClientCountByGroupRequest request, ServerCallContext context)
    {
        ValidateNames(request.Groups, "groups");
        var (results, reach) = await router.ScatterAsync(context, () =>
        {
            var r = new BatchGetClientCountByGroupResponse();
            foreach (var g in request.Groups.Distinct(StringComparer.Ordinal))
            {
                r.Counts[g] = table.GroupSize(g);
            }
            return r;
        }, (client, o) => client.BatchGetClientCountByGroupAsync(request, o), interest: (InterestKind.Group, request.Groups)).ConfigureAwait(false);
        var merged = new BatchGetClientCountByGroupResponse { Reach = reach };
        foreach (var g in request.Groups.Distinct(StringComparer.Ordinal))
        {
            merged.Counts[g] = results.Sum(r => r.Counts.TryGetValue(g, out var n) ? n : 0);
        }
        return merged;
    }

    public override async Task<GetAllClientCountResponse> GetAllClientCount(GetAllClientCountRequest request, ServerCallContext context)
    {
        var (results, reach) = await router.ScatterAsync(context, () => new GetAllClientCountResponse { Count = table.Count }, (client, o) => client.GetAllClientCountAsync(request, o)).ConfigureAwait(false);
        return new GetAllClientCountResponse { Count = results.Sum(r => r.Count), Reach = reach };
    }

    public override async Task<GetClientIdListByGroupResponse> GetClientIdListByGroup(GetClientIdListByGroupRequest request, ServerCallContext context)
    {
        ValidateName(request.Group, "group");
        var (results, reach) = await router.ScatterAsync(context, () => new GetClientIdListByGroupResponse { ClientIds = { table.GroupMembers(request.Group).Select(c => c.ClientId) } }, (client, o) => client.GetClientIdListByGroupAsync(request, o), interest: (InterestKind.Group, [request.Group])).ConfigureAwait(false);
        return new GetClientIdListByGroupResponse { ClientIds = { results.SelectMany(r => r.ClientIds).Order(StringComparer.Ordinal) }, Reach = reach };
    }

    public override async Task<GetAllClientIdListResponse> GetAllClientIdList(GetAllClientIdListRequest request, ServerCallContext context)
    {
        var (results, reach) = await router.ScatterAsync(context, () => new GetAllClientIdListResponse { ClientIds = { table.All.Select(c => c.ClientId) } }, (client, o) => client.GetAllClientIdListAsync(request, o)).ConfigureAwait(false);
        return new GetAllClientIdListResponse { ClientIds = { results.SelectMany(r => r.ClientIds).Order(StringComparer.Ordinal) }, Reach = reach };
    }

    public override async Task<GetUidListByGroupResponse> GetUidListByGroup(GetUidListByGroupRequest request, ServerCallContext context)
    {
        ValidateName(request.Group, "group");
        var (results, reach) = await router.ScatterAsync(context, () => new GetUidListByGroupResponse { Uids = { table.UidsOfGroup(request.Group) } }, (client, o) => client.GetUidListByGroupAsync(request, o), interest: (InterestKind.Group, [request.Group])).ConfigureAwait(false);
        return new GetUidListByGroupResponse { Uids = { results.SelectMany(r => r.Uids).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal) }, Reach = reach };
    }

    public override async Task<GetUidCountByGroupResponse> GetUidCountByGroup(GetUidCountByGroupRequest request, ServerCallContext context)
    {
        ValidateName(request.Group, "group");
        var list = await GetUidListByGroup(new GetUidListByGroupRequest { Group = request.Group }, context).ConfigureAwait(false);
        return new GetUidCountByGroupResponse { Count = list.Uids.Count, Reach = list.Reach };
    }

    public override async Task<GetAllUidListResponse> GetAllUidList(GetAllUidListRequest request, ServerCallContext context)
    {
        var (results, reach) = await router.ScatterAsync(context, () => new GetAllUidListResponse { Uids = { table.UidNames() } }, (client, o) => client.GetAllUidListAsync(request, o)).ConfigureAwait(false);
        return new GetAllUidListResponse { Uids = { results.SelectMany(r => r.Uids).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal) }, Reach = reach };
    }

    public override async Task<GetAllUidCountResponse> GetAllUidCount(GetAllUidCountRequest request, ServerCallContext context)
    {
        var list = await GetAllUidList(new GetAllUidListRequest(), context).ConfigureAwait(false);
        return new GetAllUidCountResponse { Count = list.Uids.Count, Reach = list.Reach };
    }

    public override async Task<GetAllGroupIdListResponse> GetAllGroupIdList(GetAllGroupIdListRequest request, ServerCallContext context)
    {
        var (results, reach) = await router.ScatterAsync(context, () => new GetAllGroupIdListResponse { Groups = { table.GroupNames() } }, (client, o) => client.GetAllGroupIdListAsync(request, o)).ConfigureAwait(false);
        return new GetAllGroupIdListResponse { Groups = { results.SelectMany(r => r.Groups).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal) }, Reach = reach };
    }

    public override async Task<GetAllGroupUidListResponse> GetAllGroupUidList(GetAllGroupUidListRequest request, ServerCallContext context)
    {
        var (results, reach) = await router.ScatterAsync(context, () =>
        {
            var r = new GetAllGroupUidListResponse();
            foreach (var (g, uids) in table.AllGroupUids())
            {
                r.Uids[g] = new UidList { Uids = { uids } };
            }
            return r;
        }, (client, o) => client.GetAllGroupUidListAsync(request, o)).ConfigureAwait(false);
        var merged = new GetAllGroupUidListResponse { Reach = reach };
        foreach (var g in results.SelectMany(r => r.Uids.Keys).Distinct(StringComparer.Ordinal))
        {
            merged.Uids[g] = new UidList { Uids = { results.SelectMany(r => r.Uids.TryGetValue(g, out var l) ? l.Uids : []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal) } };
        }
        return merged;
    }

    public override async Task<GetAllGroupUidCountResponse> GetAllGroupUidCount(GetAllGroupUidCountRequest request, ServerCallContext context)
    {
        var list = await GetAllGroupUidList(new GetAllGroupUidListRequest(), context).ConfigureAwait(false);
        var r = new GetAllGroupUidCountResponse { Reach = list.Reach };
        foreach (var (g, l) in list.Uids)
        {
            r.Counts[g] = l.Uids.Count;
        }
        return r;
    }

    public override async Task<GetAllGroupClientIdListResponse> GetAllGroupClientIdList(GetAllGroupClientIdListRequest request, ServerCallContext context)
    {
        var (results, reach) = await router.ScatterAsync(context, () =>
        {
            var r = new GetAllGroupClientIdListResponse();
            foreach (var (g, ids) in table.AllGroupMembers())
            {
                r.ClientIds[g] = new ClientIdList { ClientIds = { ids } };
            }
            return r;
        }, (client, o) => client.GetAllGroupClientIdListAsync(request, o)).ConfigureAwait(false);
        var merged = new GetAllGroupClientIdListResponse { Reach = reach };
        foreach (var (g, l) in results.SelectMany(r => r.ClientIds))
        {
            if (!merged.ClientIds.TryGetValue(g, out var existing))
            {
                merged.ClientIds[g] = existing = new ClientIdList();
            }
            existing.ClientIds.AddRange(l.ClientIds);
        }
        return merged;
    }

    public override async Task<GetAllGroupClientIdCountResponse> GetAllGroupClientIdCount(GetAllGroupClientIdCountRequest request, ServerCallContext context)
    {
        var (results, reach) = await router.ScatterAsync(context, () =>
        {
            var r = new GetAllGroupClientIdCountResponse();
            foreach (var g in table.GroupNames())
            {
                r.Counts[g] = table.GroupSize(g);
            }
            return r;
        }, (client, o) => client.GetAllGroupClientIdCountAsync(request, o)).ConfigureAwait(false);
        var merged = new GetAllGroupClientIdCountResponse { Reach = reach };
        foreach (var (g, n) in results.SelectMany(r => r.Counts))
        {
            merged.Counts[g] = (merged.Counts.TryGetValue(g, out var m) ? m : 0) + n;
        }
        return merged;
    }

    public override async Task StreamClients(StreamClientsRequest request, IServerStreamWriter<StreamClientsResponse> responseStream, ServerCallContext context)
    {
        if (request.Group.Length > 0)
        {
            ValidateName(request.Group, "group");
        }
        if (request.PageSize is < 0 or > 10000)
        {
            throw Errors.InvalidField("page_size", "must be between 0 and 10000");
        }
        var pageSize = request.PageSize == 0 ? 1000 : request.PageSize;
        var ct = context.CancellationToken;
        var members = request.Group.Length > 0 ? table.GroupMembers(request.Group) : table.All.ToArray();
        var page = new StreamClientsResponse { GatewayId = router.GatewayId };
        foreach (var c in members)
        {
            var info = new ClientInfo { ClientId = c.ClientId, Uid = c.Uid ?? string.Empty, Groups = { table.GroupsOf(c) } };
            if (request.IncludeSessions)
            {
                info.Session = SessionStore.ToProto(c);
            }
            page.Clients.Add(info);
            if (page.Clients.Count >= pageSize)
            {
                await responseStream.WriteAsync(page, ct).ConfigureAwait(false);
                page = new StreamClientsResponse { GatewayId = router.GatewayId };
            }
        }
        if (page.Clients.Count > 0)
        {
            await responseStream.WriteAsync(page, ct).ConfigureAwait(false);
        }
        if (ClusterRouter.IsForwarded(context))
        {
            return;
        }
        var reach = await router.RelayStreamsAsync(context, (client, o) => client.StreamClients(request, o), responseStream).ConfigureAwait(false);
        await responseStream.WriteAsync(new StreamClientsResponse { GatewayId = router.GatewayId, Reach = reach }, ct).ConfigureAwait(false);
    }

    // ---------------- operations ----------------

    public override async Task<GetStatusResponse> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        var (results, reach) = await router.ScatterAsync(context, status.Local, (client, o) => client.GetStatusAsync(request, o)).ConfigureAwait(false);
        var merged = new GetStatusResponse { Reach = reach, Gateways = { results.SelectMany(r => r.Gateways).OrderBy(g => g.Id, StringComparer.Ordinal) } };
        merged.Workers.AddRange(status.Workers());
        return merged;
    }

    public override async Task<DrainResponse> Drain(DrainRequest request, ServerCallContext context)
    {
        var grace = request.Grace?.ToTimeSpan() ?? TimeSpan.Zero;
        if (grace < TimeSpan.Zero || grace > TimeSpan.FromMinutes(10))
        {
            throw Errors.InvalidField("grace", "must be between 0 and 10 minutes");
        }
        var closed = await drain.DrainAsync(grace == TimeSpan.Zero ? O.DrainTimeout : grace).ConfigureAwait(false);
        return new DrainResponse { ClientsClosed = closed };
    }

    // ---------------- helpers ----------------

    // A query about one group asks only the gateways that may host it; about everyone (no group), every gateway.
    private static (InterestKind? Kind, IReadOnlyList<string> Names)? GroupInterest(string group)
        => group.Length > 0 ? (InterestKind.Group, [group]) : null;

    /// <summary>A single-target push the connection could not queue: never OK while the client is dropped.</summary>
    private RpcException NotQueued(string clientId, SendResult result) => result == SendResult.QueueFull
        ? Errors.Create(Google.Rpc.Code.ResourceExhausted, ErrorReason.LimitExceeded, $"client_id '{clientId}': its send queue is full (Gateway:SendQueueLimit {O.SendQueueLimit} / SendQueueBytes {O.SendQueueBytes}); the client was closed as a slow consumer (4001)", "client_id")
        : Errors.Create(Google.Rpc.Code.ResourceExhausted, ErrorReason.LimitExceeded, $"client_id '{clientId}' is closing; nothing was queued", "client_id");

    private static TResponse Sessions<TResponse>(IEnumerable<ClientConnection> members, Action<TResponse, string, Session> add)
        where TResponse : new()
    {
        var r = new TResponse();
        foreach (var c in members)
        {
            add(r, c.ClientId, SessionStore.ToProto(c));
        }
        return r;
    }

    private HashSet<long>? LocalExclusions(Google.Protobuf.Collections.RepeatedField<string> ids)
    {
        if (ids.Count == 0)
        {
            return null;
        }
        var set = new HashSet<long>();
        foreach (var id in ids)
        {
            var (gw, seq) = ClusterRouter.ParseClientId(id, "exclude_client_ids");
            if (string.Equals(gw, router.GatewayId, StringComparison.Ordinal))
            {
                set.Add(seq);
            }
        }
        return set;
    }

    private void ValidateName(string? value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw Errors.InvalidField(field, "must not be empty");
        }
        if (value.Length > O.MaxNameLength)
        {
            throw Errors.InvalidField(field, $"is longer than {O.MaxNameLength} characters (Gateway:MaxNameLength)");
        }
    }

    private void ValidateNames(Google.Protobuf.Collections.RepeatedField<string> values, string field, bool allowEmpty = false)
    {
        if (values.Count == 0 && !allowEmpty)
        {
            throw Errors.InvalidField(field, "must name at least one");
        }
        for (var i = 0; i < values.Count; i++)
        {
            ValidateName(values[i], $"{field}[{i}]");
        }
    }
}
