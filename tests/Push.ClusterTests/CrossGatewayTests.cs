using Grpc.Core;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;
using static Push.ClusterTests.Cluster;

namespace Push.ClusterTests;

/// <summary>
/// Every send and query through a gateway that does not own the targets: a is on gateway 1, b on gateway 2, c on
/// gateway 3; control calls go to the "wrong" gateway on purpose and must act on the whole cluster.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CrossGatewayTests(ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task EverySendAndQuery_ThroughAnyGateway_ActsOnTheWholeCluster()
    {
        var ct = TestTimeouts.Token();
        output.WriteLine($"cluster of 1 registry, {ClusterFixture.GatewayCount} gateways, 2 workers ready in {Ms(cluster.StartupTime)}");
        var (gw1, gw2, gw3) = (cluster.Controls[0], cluster.Controls[1], cluster.Controls[2]);
        await using var a = await TestWebSocket.ConnectAsync(cluster.Gateways[0].Ws, cancellationToken: ct);
        await using var b = await TestWebSocket.ConnectAsync(cluster.Gateways[1].Ws, cancellationToken: ct);
        await using var c = await TestWebSocket.ConnectAsync(cluster.Gateways[2].Ws, cancellationToken: ct);
        for (var i = 0; i < 3; i++)
        {
            Assert.StartsWith(cluster.GatewayIds[i], new[] { a, b, c }[i].ClientId, StringComparison.Ordinal);
        }
        var (group, other, uidA, uidC) = (Unique("g"), Unique("g2"), Unique("ua"), Unique("uc"));

        // Calls on one client go to its owner whichever gateway is called.
        await gw3.BindUidAsync(a.ClientId, uidA, ct);
        await gw2.JoinGroupAsync(a.ClientId, group, ct);
        await gw1.JoinGroupAsync(c.ClientId, group, ct);
        await gw2.BindUidAsync(c.ClientId, uidC, ct);
        await gw1.JoinGroupAsync(b.ClientId, other, ct);
        await gw1.SetSessionAsync(c.ClientId, new Dictionary<string, string> { ["name"] = "carol" }, ct);
        await gw3.UpdateSessionAsync(a.ClientId, new Dictionary<string, string> { ["name"] = "alice" }, ct);
        Assert.Equal("carol", (await gw2.GetSessionAsync(c.ClientId, ct))["name"]);
        Assert.Equal(uidA, await gw2.GetUidByClientIdAsync(a.ClientId, ct));
        Assert.True(await gw1.IsOnlineAsync(c.ClientId, ct));
        Assert.False(await gw1.IsOnlineAsync(cluster.GatewayIds[2] + "00000000ffffffff00000000", ct)); // well formed, never issued

        // A push through gateway 2 reaches the group members on gateways 1 and 3.
        var toGroup = await gw2.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, Text = "to-group" }, cancellationToken: ct);
        Assert.Equal(2, toGroup.Delivered);
        AssertWhole(toGroup.Reach);
        await AssertTextAsync(a, "to-group", ct);
        await AssertTextAsync(c, "to-group", ct);

        var toUids = await gw2.Raw.SendToUidAsync(new SendToUidRequest { Uids = { uidA, uidC }, Text = "to-uids" }, cancellationToken: ct);
        Assert.Equal(2, toUids.Delivered);
        AssertWhole(toUids.Reach);
        await AssertTextAsync(a, "to-uids", ct);
        await AssertTextAsync(c, "to-uids", ct);

        // SendToClient through gateways that do not own the client.
        Assert.Equal(1, await gw1.SendToClientAsync(c.ClientId, "to-c", ct));
        Assert.Equal(1, await gw3.SendToClientAsync(b.ClientId, "to-b", ct));
        await AssertTextAsync(c, "to-c", ct);
        await AssertTextAsync(b, "to-b", ct);

        var toAll = await gw3.Raw.SendToAllAsync(new SendToAllRequest { Text = "to-all", ExcludeClientIds = { b.ClientId } }, cancellationToken: ct);
        Assert.Equal(2, toAll.Delivered);
        AssertWhole(toAll.Reach);
        await AssertTextAsync(a, "to-all", ct);
        await AssertTextAsync(c, "to-all", ct);

        // SendToClients through gateway 2 reaches exactly a (gateway 1) and c (gateway 3): only the gateways the ids
        // name are asked, gateway 2 and b are not.
        var subset = await gw2.Raw.SendToClientsAsync(new SendToClientsRequest { ClientIds = { a.ClientId, c.ClientId }, Text = "subset" }, cancellationToken: ct);
        Assert.Equal(2, subset.Delivered);
        Assert.Equal(2, subset.Reach.GatewaysTotal);
        Assert.Equal(2, subset.Reach.GatewaysAnswered);
        Assert.Empty(subset.Reach.UnreachableGatewayIds);
        await AssertTextAsync(a, "subset", ct);
        await AssertTextAsync(c, "subset", ct);
        var minusC = await gw1.Raw.SendToClientsAsync(new SendToClientsRequest { ClientIds = { a.ClientId, c.ClientId }, ExcludeClientIds = { c.ClientId }, Text = "subset-not-c" }, cancellationToken: ct);
        Assert.Equal(1, minusC.Delivered);
        await AssertTextAsync(a, "subset-not-c", ct);
        await AssertRpcErrorAsync(() => gw3.Raw.SendToClientsAsync(new SendToClientsRequest { Text = "nobody" }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, "ERROR_REASON_INVALID_FIELD");
        await AssertReceivedNothingAsync(b, ct);
        await AssertReceivedNothingAsync(c, ct);

        var excluded = await gw2.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, ExcludeClientIds = { a.ClientId }, Text = "not-a" }, cancellationToken: ct);
        Assert.Equal(1, excluded.Delivered);
        await AssertTextAsync(c, "not-a", ct);

        var batch = await gw1.Raw.SendBatchAsync(new SendBatchRequest
        {
            Items =
            {
                new BatchItem { ClientId = b.ClientId, Text = "batch-client" },
                new BatchItem { Uids = { uidC }, Text = "batch-uid" },
                new BatchItem { Groups = { group }, Text = "batch-group" },
                new BatchItem { All = true, Text = "batch-all" },
            },
        }, cancellationToken: ct);
        Assert.Equal(1 + 1 + 2 + 3, batch.Delivered);
        AssertWhole(batch.Reach);
        await AssertTextAsync(a, "batch-group", ct);
        await AssertTextAsync(a, "batch-all", ct);
        await AssertTextAsync(b, "batch-client", ct);
        await AssertTextAsync(b, "batch-all", ct);
        await AssertTextAsync(c, "batch-uid", ct);
        await AssertTextAsync(c, "batch-group", ct);
        await AssertTextAsync(c, "batch-all", ct);

        // The demo worker's "say" is a SendToGroup from the worker to c's gateway: it reaches a on gateway 1.
        await c.SendTextAsync($"{{\"type\":\"say\",\"group\":\"{group}\",\"text\":\"hi\"}}", ct);
        Assert.Contains("\"text\":\"hi\"", (await a.ReceiveTextAsync(ct)), StringComparison.Ordinal);
        Assert.Contains("\"text\":\"hi\"", (await c.ReceiveTextAsync(ct)), StringComparison.Ordinal);

        // Queries: the same sums whichever gateway answers.
        var all = new[] { a.ClientId, b.ClientId, c.ClientId }.Order(StringComparer.Ordinal).ToArray();
        foreach (var gw in cluster.Controls)
        {
            var count = await gw.Raw.GetAllClientCountAsync(new GetAllClientCountRequest(), cancellationToken: ct);
            Assert.Equal(3, count.Count);
            AssertWhole(count.Reach);
            Assert.Equal(all, await gw.GetAllClientIdListAsync(ct));
            Assert.Equal(2, await gw.GetClientCountByGroupAsync(group, ct));
            Assert.Equal(new[] { a.ClientId, c.ClientId }.Order(StringComparer.Ordinal), await gw.GetClientIdListByGroupAsync(group, ct));
            Assert.Equal(new[] { uidA, uidC }.Order(StringComparer.Ordinal), await gw.GetAllUidListAsync(ct));
            Assert.Equal(2, await gw.GetAllUidCountAsync(ct));
            Assert.Equal(new[] { uidA, uidC }.Order(StringComparer.Ordinal), await gw.GetUidListByGroupAsync(group, ct));
            Assert.Equal(2, await gw.GetUidCountByGroupAsync(group, ct));
            Assert.Equal([c.ClientId], await gw.GetClientIdByUidAsync(uidC, ct));
            Assert.True(await gw.IsUidOnlineAsync(uidA, ct));
            Assert.Equal(new[] { group, other }.Order(StringComparer.Ordinal), await gw.GetAllGroupIdListAsync(ct));
            var sessions = await gw.GetAllClientSessionsAsync(ct);
            Assert.Equal(all, sessions.Keys.Order(StringComparer.Ordinal));
            Assert.Equal("alice", sessions[a.ClientId].Values["name"]);
            Assert.Equal("carol", sessions[c.ClientId].Values["name"]);
            Assert.Equal(new[] { a.ClientId, c.ClientId }.Order(StringComparer.Ordinal), (await gw.GetClientSessionsByGroupAsync(group, ct)).Keys.Order(StringComparer.Ordinal));
        }
        var uidsOnline = await gw1.Raw.IsUidsOnlineAsync(new IsUidsOnlineRequest { Uids = { uidA, uidC, "nobody" } }, cancellationToken: ct);
        Assert.True(uidsOnline.Online[uidA] && uidsOnline.Online[uidC] && !uidsOnline.Online["nobody"]);
        AssertWhole(uidsOnline.Reach);
        var byUid = await gw3.Raw.BatchGetClientIdByUidAsync(new BatchGetClientIdByUidRequest { Uids = { uidA, uidC } }, cancellationToken: ct);
        Assert.Equal([a.ClientId], byUid.ClientIds[uidA].ClientIds);
        Assert.Equal([c.ClientId], byUid.ClientIds[uidC].ClientIds);
        var counts = await gw2.Raw.BatchGetClientCountByGroupAsync(new BatchGetClientCountByGroupRequest { Groups = { group, other } }, cancellationToken: ct);
        Assert.Equal(new Dictionary<string, long> { [group] = 2, [other] = 1 }, counts.Counts);
        var groupCounts = await gw2.Raw.GetAllGroupClientIdCountAsync(new GetAllGroupClientIdCountRequest(), cancellationToken: ct);
        Assert.Equal(new Dictionary<string, long> { [group] = 2, [other] = 1 }, groupCounts.Counts);
        var groupIds = await gw3.Raw.GetAllGroupClientIdListAsync(new GetAllGroupClientIdListRequest(), cancellationToken: ct);
        Assert.Equal(new[] { a.ClientId, c.ClientId }.Order(StringComparer.Ordinal), groupIds.ClientIds[group].ClientIds.Order(StringComparer.Ordinal));
        var groupUids = await gw1.Raw.GetAllGroupUidCountAsync(new GetAllGroupUidCountRequest(), cancellationToken: ct);
        Assert.Equal(2, groupUids.Counts[group]);

        // StreamClients relays every gateway's pages and ends with the reach.
        var streamed = new List<ClientInfo>();
        ClusterReach? reach = null;
        using (var call = gw2.Raw.StreamClients(new StreamClientsRequest { IncludeSessions = true }, cancellationToken: ct))
        {
            await foreach (var page in call.ResponseStream.ReadAllAsync(ct))
            {
                streamed.AddRange(page.Clients);
                reach = page.Reach ?? reach;
            }
        }
        Assert.Equal(all, streamed.Select(s => s.ClientId).Order(StringComparer.Ordinal));
        Assert.Equal([group], streamed.Single(s => s.ClientId == c.ClientId).Groups);
        AssertWhole(reach!);

        // GetStatus: every gateway (three with one client each, the fourth with none), two workers, all answered.
        var status = await gw1.GetStatusAsync(ct);
        output.WriteLine(status.ToString());
        AssertWhole(status.Reach);
        Assert.Equal(cluster.GatewayIds.Order(StringComparer.Ordinal), status.Gateways.Select(g => g.Id));
        Assert.Equal(3, status.Gateways.Sum(g => g.Connections));
        Assert.All(status.Gateways, g => Assert.InRange(g.Connections, 0, 1));
        Assert.All(status.Gateways, g => Assert.Equal(2, g.WorkersConnected));
        Assert.Equal(2, status.Workers.Count);

        // Group and uid changes through other gateways; Ungroup sums over the cluster.
        await gw3.LeaveGroupAsync(a.ClientId, group, ct);
        Assert.Equal([c.ClientId], await gw1.GetClientIdListByGroupAsync(group, ct));
        await gw1.UnbindUidAsync(c.ClientId, uidC, ct);
        Assert.False(await gw2.IsUidOnlineAsync(uidC, ct));
        await gw3.JoinGroupAsync(a.ClientId, group, ct);
        var ungroup = await gw2.Raw.UngroupAsync(new UngroupRequest { Group = group }, cancellationToken: ct);
        Assert.Equal(2, ungroup.Removed);
        AssertWhole(ungroup.Reach);
        Assert.Equal(0, await gw1.GetClientCountByGroupAsync(group, ct));

        // Nothing else was delivered to anyone.
        await AssertReceivedNothingAsync(a, ct);
        await AssertReceivedNothingAsync(b, ct);
        await AssertReceivedNothingAsync(c, ct);

        // CloseClient through a gateway that does not own the client: the last message, then the close frame.
        await gw1.CloseClientAsync(b.ClientId, "bye", ct);
        await AssertTextAsync(b, "bye", ct);
        var closed = await b.Closed.WaitAsync(ct);
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, closed.Status);
        await WaitUntilAsync(async () => await gw3.GetAllClientCountAsync(ct) == 2, "b is gone from the cluster count", ct);
        Assert.False(await gw3.IsOnlineAsync(b.ClientId, ct));
        await AssertRpcErrorAsync(() => gw3.SendToClientAsync(b.ClientId, "late", ct), StatusCode.NotFound, "ERROR_REASON_CLIENT_NOT_FOUND");

        // A client id of a gateway that never existed: NOT_FOUND naming that gateway.
        var ghost = "0123456789abcdef" + "000000000000000100000001";
        var ex = await AssertRpcErrorAsync(() => gw1.SendToClientAsync(ghost, "x", ct), StatusCode.NotFound, GatewayGone);
        Assert.Contains("0123456789abcdef", ex.Status.Detail, StringComparison.Ordinal);
        output.WriteLine($"unknown gateway: {ex.Status.Detail}");
    }

    private static void AssertWhole(ClusterReach reach)
    {
        Assert.Equal(ClusterFixture.GatewayCount, reach.GatewaysTotal);
        Assert.Equal(ClusterFixture.GatewayCount, reach.GatewaysAnswered);
        Assert.Empty(reach.UnreachableGatewayIds);
    }
}
