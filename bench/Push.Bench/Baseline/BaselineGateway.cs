using System.Text;
using Google.Protobuf.Collections;
using Grpc.Core;
using Push.V1;

namespace Push.Bench.Baseline;

/// <summary>
/// The baseline's control API: the few push.v1.GatewayService calls the
/// benchmark uses, served on the baseline's own gRPC port so that the driver
/// pushes to the baseline and to the suite with the same client code. Each
/// call encodes its payload once and queues the same bytes to every target.
/// Anything else answers UNIMPLEMENTED.
/// </summary>
public sealed class BaselineGateway(BaselineHub hub) : GatewayService.GatewayServiceBase
{
    private static ReadOnlyMemory<byte> Encode(string text, Google.Protobuf.ByteString binary) =>
        binary.IsEmpty ? Encoding.UTF8.GetBytes(text) : binary.ToByteArray();

    private long ToAll(ReadOnlyMemory<byte> message, ICollection<string> exclude)
    {
        long n = 0;
        foreach (var c in hub.Clients.Values)
        {
            if ((exclude.Count == 0 || !exclude.Contains(c.Id)) && hub.Enqueue(c, message))
            {
                n++;
            }
        }
        return n;
    }

    private long ToGroups(ReadOnlyMemory<byte> message, RepeatedField<string> groups, ICollection<string> exclude)
    {
        long n = 0;
        HashSet<string>? seen = groups.Count > 1 ? new(StringComparer.Ordinal) : null;
        foreach (string g in groups)
        {
            if (!hub.Groups.TryGetValue(g, out var members))
            {
                continue;
            }
            foreach (var c in members.Values)
            {
                if ((exclude.Count == 0 || !exclude.Contains(c.Id)) && (seen is null || seen.Add(c.Id)) && hub.Enqueue(c, message))
                {
                    n++;
                }
            }
        }
        return n;
    }

    private long ToClient(ReadOnlyMemory<byte> message, string id) =>
        hub.Clients.TryGetValue(id, out var c) && hub.Enqueue(c, message) ? 1 : 0;

    private long ToUids(ReadOnlyMemory<byte> message, IList<string> uids)
    {
        long n = 0;
        foreach (string uid in uids)
        {
            if (hub.Uids.TryGetValue(uid, out var c) && hub.Enqueue(c, message))
            {
                n++;
            }
        }
        return n;
    }

    public override Task<SendToAllResponse> SendToAll(SendToAllRequest request, ServerCallContext context) =>
        Task.FromResult(new SendToAllResponse
        {
            Delivered = ToAll(Encode(request.Text, request.Binary), ExcludeSet(request.ExcludeClientIds)),
        });

    public override Task<SendToGroupResponse> SendToGroup(SendToGroupRequest request, ServerCallContext context) =>
        Task.FromResult(new SendToGroupResponse
        {
            Delivered = ToGroups(Encode(request.Text, request.Binary), request.Groups, ExcludeSet(request.ExcludeClientIds)),
        });

    public override Task<SendToClientResponse> SendToClient(SendToClientRequest request, ServerCallContext context) =>
        Task.FromResult(new SendToClientResponse { Delivered = ToClient(Encode(request.Text, request.Binary), request.ClientId) });

    public override Task<SendToUidResponse> SendToUid(SendToUidRequest request, ServerCallContext context) =>
        Task.FromResult(new SendToUidResponse { Delivered = ToUids(Encode(request.Text, request.Binary), request.Uids) });

    public override Task<SendBatchResponse> SendBatch(SendBatchRequest request, ServerCallContext context)
    {
        long n = 0;
        var none = Array.Empty<string>();
        foreach (var item in request.Items)
        {
            var message = Encode(item.Text, item.Binary);
            if (item.ClientId.Length > 0)
            {
                n += ToClient(message, item.ClientId);
            }
            else if (item.Uids.Count > 0)
            {
                n += ToUids(message, item.Uids);
            }
            else if (item.Groups.Count > 0)
            {
                n += ToGroups(message, item.Groups, none);
            }
            else if (item.All)
            {
                n += ToAll(message, none);
            }
        }
        return Task.FromResult(new SendBatchResponse { Delivered = n });
    }

    public override Task<JoinGroupResponse> JoinGroup(JoinGroupRequest request, ServerCallContext context)
    {
        if (!hub.Clients.TryGetValue(request.ClientId, out var c))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "client not found"));
        }
        hub.Groups.GetOrAdd(request.Group, static _ => new(StringComparer.Ordinal))[c.Id] = c;
        lock (c)
        {
            c.Groups ??= [];
            if (!c.Groups.Contains(request.Group))
            {
                c.Groups.Add(request.Group);
            }
        }
        return Task.FromResult(new JoinGroupResponse());
    }

    public override Task<BindUidResponse> BindUid(BindUidRequest request, ServerCallContext context)
    {
        if (!hub.Clients.TryGetValue(request.ClientId, out var c))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "client not found"));
        }
        c.Uid = request.Uid;
        hub.Uids[request.Uid] = c;
        return Task.FromResult(new BindUidResponse());
    }

    public override Task<GetAllClientCountResponse> GetAllClientCount(GetAllClientCountRequest request, ServerCallContext context) =>
        Task.FromResult(new GetAllClientCountResponse { Count = hub.Clients.Count });

    public override Task<GetAllClientIdListResponse> GetAllClientIdList(GetAllClientIdListRequest request, ServerCallContext context)
    {
        var response = new GetAllClientIdListResponse();
        response.ClientIds.AddRange(hub.Clients.Keys);
        return Task.FromResult(response);
    }

    public override Task<GetStatusResponse> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        var response = new GetStatusResponse();
        response.Gateways.Add(new GatewayStatus
        {
            Id = "baseline",
            Connections = hub.Clients.Count,
            Groups = hub.Groups.Count,
            Uids = hub.Uids.Count,
            MessagesDropped = hub.Dropped,
        });
        return Task.FromResult(response);
    }

    private static ICollection<string> ExcludeSet(RepeatedField<string> ids) =>
        ids.Count == 0 ? Array.Empty<string>() : new HashSet<string>(ids, StringComparer.Ordinal);
}
