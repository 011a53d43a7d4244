using Google.Protobuf;
using Grpc.Core;
using Push.Testing;
using Push.V1;
using static Push.IntegrationTests.TestHelpers;
using Limits = Push.IntegrationTests.SmallLimitsFixture;

namespace Push.IntegrationTests;

/// <summary>
/// Bad requests to the control API: each gets the right gRPC status with google.rpc.ErrorInfo (and BadRequest naming
/// the field), and a follow-up query shows that nothing changed. Runs on `push start` with small limits (<see cref="SmallLimitsFixture"/>).
/// </summary>
[Trait("Category", "Integration")]
public sealed class BadInputTests(SmallLimitsFixture fixture) : IClassFixture<SmallLimitsFixture>
{
    private const int Max = Limits.MaxPushSize;
    private readonly GatewayService.GatewayServiceClient _raw = fixture.Control.Raw;

    /// <summary>Every method that takes one client id (IsOnline answers false instead of failing).</summary>
    public static TheoryData<string> ClientIdMethods =>
    [
        "SendToClient", "CloseClient", "DestroyClient", "BindUid", "UnbindUid", "GetUidByClientId",
        "JoinGroup", "LeaveGroup", "SetSession", "UpdateSession", "GetSession",
    ];

    private Task CallWithClientId(string method, string clientId, string group, string uid, CancellationToken ct) => method switch
    {
        "SendToClient" => _raw.SendToClientAsync(new SendToClientRequest { ClientId = clientId, Text = "x" }, cancellationToken: ct).ResponseAsync,
        "CloseClient" => _raw.CloseClientAsync(new CloseClientRequest { ClientId = clientId, Text = "bye" }, cancellationToken: ct).ResponseAsync,
        "DestroyClient" => _raw.DestroyClientAsync(new DestroyClientRequest { ClientId = clientId }, cancellationToken: ct).ResponseAsync,
        "BindUid" => _raw.BindUidAsync(new BindUidRequest { ClientId = clientId, Uid = uid }, cancellationToken: ct).ResponseAsync,
        "UnbindUid" => _raw.UnbindUidAsync(new UnbindUidRequest { ClientId = clientId }, cancellationToken: ct).ResponseAsync,
        "GetUidByClientId" => _raw.GetUidByClientIdAsync(new GetUidByClientIdRequest { ClientId = clientId }, cancellationToken: ct).ResponseAsync,
        "JoinGroup" => _raw.JoinGroupAsync(new JoinGroupRequest { ClientId = clientId, Group = group }, cancellationToken: ct).ResponseAsync,
        "LeaveGroup" => _raw.LeaveGroupAsync(new LeaveGroupRequest { ClientId = clientId, Group = group }, cancellationToken: ct).ResponseAsync,
        "SetSession" => _raw.SetSessionAsync(new SetSessionRequest { ClientId = clientId, Session = { ["k"] = "v" } }, cancellationToken: ct).ResponseAsync,
        "UpdateSession" => _raw.UpdateSessionAsync(new UpdateSessionRequest { ClientId = clientId, Session = { ["k"] = "v" } }, cancellationToken: ct).ResponseAsync,
        "GetSession" => _raw.GetSessionAsync(new GetSessionRequest { ClientId = clientId }, cancellationToken: ct).ResponseAsync,
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, null),
    };

    /// <summary>A real client, in a group and bound to a uid, whose id the bad requests are made from.</summary>
    private async Task<(TestWebSocket Ws, string Group, string Uid)> VictimAsync(CancellationToken ct)
    {
        var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var (g, u) = (Unique("g"), Unique("u"));
        await fixture.Control.JoinGroupAsync(ws.ClientId, g, ct);
        await fixture.Control.BindUidAsync(ws.ClientId, u, ct);
        await fixture.Control.SetSessionAsync(ws.ClientId, new Dictionary<string, string> { ["s"] = "1" }, ct);
        return (ws, g, u);
    }

    /// <summary>The victim is still connected, in its group only, bound to its uid, with its session, and got nothing.</summary>
    private async Task AssertUnchangedAsync(TestWebSocket ws, string group, string uid, CancellationToken ct, params string[] otherNames)
    {
        Assert.True(await fixture.Control.IsOnlineAsync(ws.ClientId, ct));
        Assert.Equal([ws.ClientId], await fixture.Control.GetClientIdListByGroupAsync(group, ct));
        Assert.Equal(uid, await fixture.Control.GetUidByClientIdAsync(ws.ClientId, ct));
        Assert.Equal(new Dictionary<string, string> { ["s"] = "1" }, await fixture.Control.GetSessionAsync(ws.ClientId, ct));
        var groups = await fixture.Control.GetAllGroupIdListAsync(ct);
        var uids = await fixture.Control.GetAllUidListAsync(ct);
        Assert.DoesNotContain("", groups);
        Assert.DoesNotContain("", uids);
        foreach (var n in otherNames)
        {
            Assert.DoesNotContain(n, groups);
            Assert.DoesNotContain(n, uids);
        }
        await AssertReceivedNothingAsync(ws, ct);
    }

    // ---------------- client ids ----------------

    [Theory]
    [MemberData(nameof(ClientIdMethods))]
    public async Task UnknownClientIdOfThisGateway_IsNotFound(string method)
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            var unknown = ws.ClientId[..16] + new string('f', 24);
            var (g2, u2) = (Unique("g"), Unique("u"));

            await AssertRpcErrorAsync(() => CallWithClientId(method, unknown, g2, u2, ct), StatusCode.NotFound, ClientNotFound, messageContains: unknown);

            Assert.False(await fixture.Control.IsOnlineAsync(unknown, ct));
            await AssertUnchangedAsync(ws, g, u, ct, g2, u2);
        }
    }

    [Theory]
    [MemberData(nameof(ClientIdMethods))]
    public async Task ClientIdOfUnknownGateway_IsNotFound_NamingTheGateway(string method)
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            var gateway = ClientLifecycleTests.OtherGatewayId(ws.ClientId);
            var foreign = gateway + ws.ClientId[16..];
            var (g2, u2) = (Unique("g"), Unique("u"));

            var ex = await AssertRpcErrorAsync(() => CallWithClientId(method, foreign, g2, u2, ct), StatusCode.NotFound, GatewayGone, messageContains: "gateway " + gateway);
            Assert.Contains(foreign, ex.Status.Detail, StringComparison.Ordinal);

            Assert.False(await fixture.Control.IsOnlineAsync(foreign, ct));
            await AssertUnchangedAsync(ws, g, u, ct, g2, u2);
        }
    }

    [Theory]
    [MemberData(nameof(ClientIdMethods))]
    public async Task MalformedClientId_IsInvalidArgument_NamingTheField(string method)
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            var id = ws.ClientId;
            string[] malformed = ["abc", "ABCDEF" + id[6..], id[..27], id + "0", id[..27] + "g", " " + id[1..], ""];
            var (g2, u2) = (Unique("g"), Unique("u"));
            foreach (var bad in malformed)
            {
                await AssertRpcErrorAsync(() => CallWithClientId(method, bad, g2, u2, ct), StatusCode.InvalidArgument, InvalidField, field: "client_id");
            }
            await AssertRpcErrorAsync(() => fixture.Control.IsOnlineAsync("ABCDEF" + id[6..], ct), StatusCode.InvalidArgument, InvalidField, field: "client_id");
            await AssertUnchangedAsync(ws, g, u, ct, g2, u2);
        }
    }

    [Fact]
    public async Task MalformedIdsInClientIdLists_AreInvalidArgument_NothingIsSent()
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            await AssertRpcErrorAsync(() => _raw.SendToClientsAsync(new SendToClientsRequest { ClientIds = { ws.ClientId, "abc" }, Text = "x" }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "client_ids");
            await AssertRpcErrorAsync(() => _raw.SendToClientsAsync(new SendToClientsRequest { ClientIds = { ws.ClientId, "" }, Text = "x" }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "client_ids");
            await AssertRpcErrorAsync(() => _raw.SendToClientsAsync(new SendToClientsRequest { ClientIds = { ws.ClientId }, ExcludeClientIds = { ws.ClientId.ToUpperInvariant() + "x" }, Text = "x" }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "exclude_client_ids");
            await AssertRpcErrorAsync(() => _raw.SendToAllAsync(new SendToAllRequest { ExcludeClientIds = { "nope" }, Text = "x" }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "exclude_client_ids");
            await AssertRpcErrorAsync(() => _raw.SendToGroupAsync(new SendToGroupRequest { Groups = { g }, ExcludeClientIds = { "nope" }, Text = "x" }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "exclude_client_ids");
            await AssertRpcErrorAsync(() => _raw.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { Groups = { g }, Text = "first" }, new BatchItem { ClientId = "abc", Text = "x" } } }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "items[1].client_id");

            // A well-formed id of a gateway that is gone is not an error for a list: it is reported as unreachable.
            var gateway = ClientLifecycleTests.OtherGatewayId(ws.ClientId);
            var r = await _raw.SendToClientsAsync(new SendToClientsRequest { ClientIds = { gateway + ws.ClientId[16..] }, Text = "x" }, cancellationToken: ct);
            Assert.Equal(0, r.Delivered);
            Assert.Equal([gateway], r.Reach.UnreachableGatewayIds);

            await AssertUnchangedAsync(ws, g, u, ct);
        }
    }

    // ---------------- names and lists ----------------

    public static TheoryData<string, string> EmptyNameCalls => new()
    {
        { "BindUid", "uid" },
        { "JoinGroup", "group" },
        { "LeaveGroup", "group" },
        { "Ungroup", "group" },
        { "IsUidOnline", "uid" },
        { "GetClientIdByUid", "uid" },
        { "GetClientIdListByGroup", "group" },
        { "GetUidListByGroup", "group" },
        { "GetUidCountByGroup", "group" },
        { "GetClientSessionsByGroup", "group" },
        { "IsUidsOnline", "uids[1]" },
        { "BatchGetClientIdByUid", "uids[1]" },
        { "BatchGetClientCountByGroup", "groups[1]" },
        { "SendToUid", "uids[1]" },
        { "SendToGroup", "groups[1]" },
        { "SendBatch", "items[1].groups[0]" },
    };

    [Theory]
    [MemberData(nameof(EmptyNameCalls))]
    public async Task EmptyGroupOrUid_IsInvalidArgument_AndChangesNothing(string method, string field)
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            var id = ws.ClientId;
            Task call = method switch
            {
                "BindUid" => _raw.BindUidAsync(new BindUidRequest { ClientId = id, Uid = "" }, cancellationToken: ct).ResponseAsync,
                "JoinGroup" => _raw.JoinGroupAsync(new JoinGroupRequest { ClientId = id, Group = "" }, cancellationToken: ct).ResponseAsync,
                "LeaveGroup" => _raw.LeaveGroupAsync(new LeaveGroupRequest { ClientId = id, Group = "" }, cancellationToken: ct).ResponseAsync,
                "Ungroup" => _raw.UngroupAsync(new UngroupRequest { Group = "" }, cancellationToken: ct).ResponseAsync,
                "IsUidOnline" => _raw.IsUidOnlineAsync(new IsUidOnlineRequest { Uid = "" }, cancellationToken: ct).ResponseAsync,
                "GetClientIdByUid" => _raw.GetClientIdByUidAsync(new GetClientIdByUidRequest { Uid = "" }, cancellationToken: ct).ResponseAsync,
                "GetClientIdListByGroup" => _raw.GetClientIdListByGroupAsync(new GetClientIdListByGroupRequest { Group = "" }, cancellationToken: ct).ResponseAsync,
                "GetUidListByGroup" => _raw.GetUidListByGroupAsync(new GetUidListByGroupRequest { Group = "" }, cancellationToken: ct).ResponseAsync,
                "GetUidCountByGroup" => _raw.GetUidCountByGroupAsync(new GetUidCountByGroupRequest { Group = "" }, cancellationToken: ct).ResponseAsync,
                "GetClientSessionsByGroup" => _raw.GetClientSessionsByGroupAsync(new GetClientSessionsByGroupRequest { Group = "" }, cancellationToken: ct).ResponseAsync,
                "IsUidsOnline" => _raw.IsUidsOnlineAsync(new IsUidsOnlineRequest { Uids = { u, "" } }, cancellationToken: ct).ResponseAsync,
                "BatchGetClientIdByUid" => _raw.BatchGetClientIdByUidAsync(new BatchGetClientIdByUidRequest { Uids = { u, "" } }, cancellationToken: ct).ResponseAsync,
                "BatchGetClientCountByGroup" => _raw.BatchGetClientCountByGroupAsync(new BatchGetClientCountByGroupRequest { Groups = { g, "" } }, cancellationToken: ct).ResponseAsync,
                "SendToUid" => _raw.SendToUidAsync(new SendToUidRequest { Uids = { u, "" }, Text = "x" }, cancellationToken: ct).ResponseAsync,
                "SendToGroup" => _raw.SendToGroupAsync(new SendToGroupRequest { Groups = { g, "" }, Text = "x" }, cancellationToken: ct).ResponseAsync,
                "SendBatch" => _raw.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { ClientId = id, Text = "first" }, new BatchItem { Groups = { "" }, Text = "x" } } }, cancellationToken: ct).ResponseAsync,
                _ => throw new ArgumentOutOfRangeException(nameof(method), method, null),
            };

            await AssertRpcErrorAsync(() => call, StatusCode.InvalidArgument, InvalidField, field: field);

            await AssertUnchangedAsync(ws, g, u, ct);
        }
    }

    [Fact]
    public async Task NameLongerThanMaxNameLength_IsInvalidArgument()
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            var tooLong = new string('n', 257);
            await AssertRpcErrorAsync(() => fixture.Control.BindUidAsync(ws.ClientId, tooLong, ct), StatusCode.InvalidArgument, InvalidField, field: "uid", messageContains: "MaxNameLength");
            await AssertRpcErrorAsync(() => fixture.Control.JoinGroupAsync(ws.ClientId, tooLong, ct), StatusCode.InvalidArgument, InvalidField, field: "group", messageContains: "MaxNameLength");
            await AssertRpcErrorAsync(() => fixture.Control.GetClientCountByGroupAsync(tooLong, ct), StatusCode.InvalidArgument, InvalidField, field: "group");
            await AssertUnchangedAsync(ws, g, u, ct, tooLong);
        }
    }

    public static TheoryData<string, string> EmptyListCalls => new()
    {
        { "SendToUid", "uids" },
        { "SendToGroup", "groups" },
        { "IsUidsOnline", "uids" },
        { "BatchGetClientIdByUid", "uids" },
        { "BatchGetClientCountByGroup", "groups" },
        { "SendBatch", "items" },
    };

    [Theory]
    [MemberData(nameof(EmptyListCalls))]
    public async Task EmptyGroupsOrUidsList_IsInvalidArgument(string method, string field)
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            Task call = method switch
            {
                "SendToUid" => _raw.SendToUidAsync(new SendToUidRequest { Text = "x" }, cancellationToken: ct).ResponseAsync,
                "SendToGroup" => _raw.SendToGroupAsync(new SendToGroupRequest { Text = "x" }, cancellationToken: ct).ResponseAsync,
                "IsUidsOnline" => _raw.IsUidsOnlineAsync(new IsUidsOnlineRequest(), cancellationToken: ct).ResponseAsync,
                "BatchGetClientIdByUid" => _raw.BatchGetClientIdByUidAsync(new BatchGetClientIdByUidRequest(), cancellationToken: ct).ResponseAsync,
                "BatchGetClientCountByGroup" => _raw.BatchGetClientCountByGroupAsync(new BatchGetClientCountByGroupRequest(), cancellationToken: ct).ResponseAsync,
                "SendBatch" => _raw.SendBatchAsync(new SendBatchRequest(), cancellationToken: ct).ResponseAsync,
                _ => throw new ArgumentOutOfRangeException(nameof(method), method, null),
            };

            await AssertRpcErrorAsync(() => call, StatusCode.InvalidArgument, InvalidField, field: field);

            await AssertUnchangedAsync(ws, g, u, ct);
        }
    }

    [Fact]
    public async Task SendBatch_ItemWithoutExactlyOneTarget_IsInvalidArgument_NoItemIsSent()
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            var first = new BatchItem { ClientId = ws.ClientId, Text = "first" };
            await AssertRpcErrorAsync(() => _raw.SendBatchAsync(new SendBatchRequest { Items = { first, new BatchItem { Text = "no target" } } }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "items[1]");
            await AssertRpcErrorAsync(() => _raw.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { ClientId = ws.ClientId, Groups = { g }, Text = "two targets" } } }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "items[0]");
            await AssertRpcErrorAsync(() => _raw.SendBatchAsync(new SendBatchRequest { Items = { first, new BatchItem { All = true, Uids = { u }, Text = "two targets" } } }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "items[1]");
            await AssertUnchangedAsync(ws, g, u, ct);
        }
    }

    // ---------------- payloads ----------------

    public static TheoryData<string, string> PayloadProblems()
    {
        var data = new TheoryData<string, string>();
        foreach (var method in new[] { "SendToClient", "SendToAll", "SendToClients", "SendToUid", "SendToGroup", "SendBatch", "CloseClient" })
        {
            foreach (var problem in new[] { "missing", "empty text", "empty binary", "oversize text", "oversize multi-byte text", "oversize binary" })
            {
                if (method != "CloseClient" || problem != "missing") // CloseClient's last message is optional
                {
                    data.Add(method, problem);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(PayloadProblems))]
    public async Task BadPayload_IsInvalidArgument_NothingIsSentOrClosed(string method, string problem)
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            var (setText, setBinary, field) = problem switch
            {
                "missing" => ((string?)null, (ByteString?)null, "data"),
                "empty text" => ("", null, "text"),
                "empty binary" => (null, ByteString.Empty, "binary"),
                "oversize text" => (new string('x', Max + 1), null, "text"),
                "oversize multi-byte text" => (new string('é', (Max / 2) + 1), null, "text"), // fewer chars than the limit, more bytes
                _ => (null, ByteString.CopyFrom(new byte[Max + 1]), "binary"),
            };
            var id = ws.ClientId;
            Task call;
            switch (method)
            {
                case "SendToClient":
                    var r1 = new SendToClientRequest { ClientId = id };
                    if (setText is not null) { r1.Text = setText; }
                    if (setBinary is not null) { r1.Binary = setBinary; }
                    call = _raw.SendToClientAsync(r1, cancellationToken: ct).ResponseAsync;
                    break;
                case "SendToAll":
                    var r2 = new SendToAllRequest();
                    if (setText is not null) { r2.Text = setText; }
                    if (setBinary is not null) { r2.Binary = setBinary; }
                    call = _raw.SendToAllAsync(r2, cancellationToken: ct).ResponseAsync;
                    break;
                case "SendToClients":
                    var r2b = new SendToClientsRequest { ClientIds = { id } };
                    if (setText is not null) { r2b.Text = setText; }
                    if (setBinary is not null) { r2b.Binary = setBinary; }
                    call = _raw.SendToClientsAsync(r2b, cancellationToken: ct).ResponseAsync;
                    break;
                case "SendToUid":
                    var r3 = new SendToUidRequest { Uids = { u } };
                    if (setText is not null) { r3.Text = setText; }
                    if (setBinary is not null) { r3.Binary = setBinary; }
                    call = _raw.SendToUidAsync(r3, cancellationToken: ct).ResponseAsync;
                    break;
                case "SendToGroup":
                    var r4 = new SendToGroupRequest { Groups = { g } };
                    if (setText is not null) { r4.Text = setText; }
                    if (setBinary is not null) { r4.Binary = setBinary; }
                    call = _raw.SendToGroupAsync(r4, cancellationToken: ct).ResponseAsync;
                    break;
                case "SendBatch":
                    var item = new BatchItem { Groups = { g } };
                    if (setText is not null) { item.Text = setText; }
                    if (setBinary is not null) { item.Binary = setBinary; }
                    field = "items[1]." + field;
                    call = _raw.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { ClientId = id, Text = "first" }, item } }, cancellationToken: ct).ResponseAsync;
                    break;
                default:
                    var r6 = new CloseClientRequest { ClientId = id };
                    if (setText is not null) { r6.Text = setText; }
                    if (setBinary is not null) { r6.Binary = setBinary; }
                    call = _raw.CloseClientAsync(r6, cancellationToken: ct).ResponseAsync;
                    break;
            }

            var ex = await AssertRpcErrorAsync(() => call, StatusCode.InvalidArgument, InvalidField, field: field);
            if (problem.StartsWith("oversize", StringComparison.Ordinal))
            {
                Assert.Contains("1024-byte limit", ex.Status.Detail, StringComparison.Ordinal);
            }

            await AssertUnchangedAsync(ws, g, u, ct);
        }
    }

    [Fact]
    public async Task PayloadOfExactlyMaxPushSize_IsDelivered()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var text = new string('é', Max / 2); // 1024 bytes in UTF-8
        var bytes = new byte[Max];
        bytes.AsSpan().Fill(0x5A);

        Assert.Equal(1, await fixture.Control.SendToClientAsync(ws.ClientId, text, ct));
        Assert.Equal(1, await fixture.Control.SendToClientAsync(ws.ClientId, bytes, ct));

        await AssertTextAsync(ws, text, ct);
        await AssertBinaryAsync(ws, bytes, ct);
    }
    // ---------------- limits ----------------

    [Fact]
    public async Task SessionLargerThanMaxSessionSize_IsResourceExhausted_SessionUnchanged()
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct);
        await using (ws)
        {
            var big = new Dictionary<string, string> { ["k"] = new string('v', Limits.MaxSessionSize) };
            await AssertRpcErrorAsync(() => fixture.Control.SetSessionAsync(ws.ClientId, big, ct), StatusCode.ResourceExhausted, LimitExceeded, field: "session", messageContains: "MaxSessionSize");
            await AssertRpcErrorAsync(() => fixture.Control.UpdateSessionAsync(ws.ClientId, big, ct), StatusCode.ResourceExhausted, LimitExceeded, field: "session");
            // A merge is measured with what is kept: 1 + 1 (kept "s") + 1 + 61 = 64 fits, one more char does not.
            await AssertRpcErrorAsync(() => fixture.Control.UpdateSessionAsync(ws.ClientId, new Dictionary<string, string> { ["k"] = new string('v', Limits.MaxSessionSize - 2) }, ct), StatusCode.ResourceExhausted, LimitExceeded, field: "session");
            await AssertUnchangedAsync(ws, g, u, ct);

            await fixture.Control.UpdateSessionAsync(ws.ClientId, new Dictionary<string, string> { ["k"] = new string('v', Limits.MaxSessionSize - 3) }, ct);
            Assert.Equal(Limits.MaxSessionSize - 3, (await fixture.Control.GetSessionAsync(ws.ClientId, ct))["k"].Length);
        }
    }

    [Fact]
    public async Task JoiningMoreThanMaxGroupsPerConnection_IsResourceExhausted_GroupsUnchanged()
    {
        var ct = TestTimeouts.Token();
        var (ws, g, u) = await VictimAsync(ct); // already in one group
        await using (ws)
        {
            var more = Enumerable.Range(0, Limits.MaxGroupsPerConnection).Select(i => Unique($"more{i}")).ToArray();
            foreach (var m in more[..^1])
            {
                await fixture.Control.JoinGroupAsync(ws.ClientId, m, ct);
            }
            await fixture.Control.JoinGroupAsync(ws.ClientId, g, ct); // re-joining a group it is in is no new group

            await AssertRpcErrorAsync(() => fixture.Control.JoinGroupAsync(ws.ClientId, more[^1], ct), StatusCode.ResourceExhausted, LimitExceeded, field: "group", messageContains: "MaxGroupsPerConnection");

            Assert.Equal(0, await fixture.Control.GetClientCountByGroupAsync(more[^1], ct));
            foreach (var m in more[..^1])
            {
                await fixture.Control.LeaveGroupAsync(ws.ClientId, m, ct);
            }
            await AssertUnchangedAsync(ws, g, u, ct, more);
        }
    }
}
