using Push.Testing;
using Push.V1;
using Xunit.Abstractions;
using static Push.ClusterTests.Cluster;
using static Push.ClusterTests.InterestRouting;

namespace Push.ClusterTests;

/// <summary>
/// Interest routing (Cluster:Routing=mesh, the default) on four real gateways with the secret and default limits: a
/// group or uid push, and a query about a group or uid, goes only to the gateways that host members (counted by
/// the gateways themselves: pushes run per gateway, reach.gateways_asked); a push to everyone still goes everywhere.
/// </summary>
[Trait("Category", "Integration")]
public sealed class InterestRoutingTests(ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task GroupAndUidPushes_MembersOnOneGateway_GoToThatGatewayOnly()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(60));
        await WaitInSyncAsync(cluster, ct);
        var (group, uid, empty) = (Unique("g"), Unique("u"), Unique("none"));
        var clients = new List<RecordingClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                clients.Add(await RecordingClient.ConnectAsync(cluster, 0, ct));
            }
            // Joins through other gateways: each goes to the owner (gateway 0), which answers once its peers have the interest.
            foreach (var c in clients)
            {
                await cluster.Controls[2].JoinGroupAsync(c.ClientId, group, ct);
            }
            await cluster.Controls[3].BindUidAsync(clients[0].ClientId, uid, ct);

            var before = new double[cluster.Gateways.Count];
            for (var i = 0; i < before.Length; i++)
            {
                before[i] = await GroupPushesAsync(cluster.Gateways[i], ct);
            }
            const int N = 300;
            for (var n = 0; n < N; n++)
            {
                var r = await cluster.Controls[1].Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, Text = $"P:{n}" }, cancellationToken: ct);
                Assert.Equal(3, r.Delivered);
                Assert.Equal(4, r.Reach.GatewaysTotal);
                Assert.Equal(4, r.Reach.GatewaysAnswered);
                Assert.Empty(r.Reach.UnreachableGatewayIds);
                Assert.True(r.Reach.GatewaysAsked == 2, $"push {n}: asked {r.Reach.GatewaysAsked} gateways, expected 2 (gateway 1 itself and gateway 0 with the members)");
            }
            // Each gateway's own count of group pushes it ran: gateways 2 and 3 (no members) got none of them.
            Assert.Equal(before[0] + N, await GroupPushesAsync(cluster.Gateways[0], ct));
            Assert.Equal(before[1] + N, await GroupPushesAsync(cluster.Gateways[1], ct));
            Assert.Equal(before[2], await GroupPushesAsync(cluster.Gateways[2], ct));
            Assert.Equal(before[3], await GroupPushesAsync(cluster.Gateways[3], ct));
            await WaitUntilAsync(() => Task.FromResult(clients.All(c => c.Received.Count == N)), () => $"every member got the {N} pushes: {string.Join(", ", clients.Select(c => c.Received.Count))}", ct);
            Assert.All(clients, c => Assert.Equal(0, c.Duplicates));
            output.WriteLine($"{N} group pushes through gateway 1: each ran on gateways 0 and 1 only; decisions on gateway 1: " +
                $"asked {await MetricAsync(cluster.Gateways[1], Decisions, "push_decision=\"asked\"", ct)}, skipped {await MetricAsync(cluster.Gateways[1], Decisions, "push_decision=\"skipped\"", ct)}, stale {await MetricAsync(cluster.Gateways[1], Decisions, "push_decision=\"stale\"", ct)}");

            // A uid push and the queries: only gateway 0 is asked.
            var toUid = await cluster.Controls[2].Raw.SendToUidAsync(new SendToUidRequest { Uids = { uid }, Text = "P:1000" }, cancellationToken: ct);
            Assert.Equal((1, 2, 4), (toUid.Delivered, toUid.Reach.GatewaysAsked, toUid.Reach.GatewaysAnswered));
            var batch = await cluster.Controls[3].Raw.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { Groups = { group }, Text = "P:1001" }, new BatchItem { Uids = { uid }, Text = "P:1002" } } }, cancellationToken: ct);
            Assert.Equal((4, 2, 4), (batch.Delivered, batch.Reach.GatewaysAsked, batch.Reach.GatewaysAnswered));
            var batchAll = await cluster.Controls[3].Raw.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { Groups = { group }, Text = "P:1003" }, new BatchItem { ClientId = clients[1].ClientId, Text = "P:1004" } } }, cancellationToken: ct);
            Assert.Equal((4, 4), (batchAll.Delivered, batchAll.Reach.GatewaysAsked)); // a client-id item: every gateway
            var online = await cluster.Controls[3].Raw.IsUidOnlineAsync(new IsUidOnlineRequest { Uid = uid }, cancellationToken: ct);
            Assert.True(online.Online);
            Assert.Equal(2, online.Reach.GatewaysAsked);
            var count = await cluster.Controls[3].Raw.GetClientCountByGroupAsync(new GetClientCountByGroupRequest { Group = group }, cancellationToken: ct);
            Assert.Equal((3, 2, 4), (count.Count, count.Reach.GatewaysAsked, count.Reach.GatewaysTotal));
            var ids = await cluster.Controls[2].Raw.GetClientIdListByGroupAsync(new GetClientIdListByGroupRequest { Group = group }, cancellationToken: ct);
            Assert.Equal(clients.Select(c => c.ClientId).Order(StringComparer.Ordinal), ids.ClientIds);
            Assert.Equal(2, ids.Reach.GatewaysAsked);
            var byUid = await cluster.Controls[1].Raw.GetClientIdByUidAsync(new GetClientIdByUidRequest { Uid = uid }, cancellationToken: ct);
            Assert.Equal([clients[0].ClientId], byUid.ClientIds);
            Assert.Equal(2, byUid.Reach.GatewaysAsked);

            // Nobody anywhere: only the called gateway runs it. Everyone: every gateway.
            var nobody = await cluster.Controls[1].Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { empty }, Text = "P:2000" }, cancellationToken: ct);
            Assert.Equal((0, 1, 4, 4), (nobody.Delivered, nobody.Reach.GatewaysAsked, nobody.Reach.GatewaysAnswered, nobody.Reach.GatewaysTotal));
            var all = await cluster.Controls[1].Raw.SendToAllAsync(new SendToAllRequest { Text = "to-all" }, cancellationToken: ct);
            Assert.Equal(4, all.Reach.GatewaysAsked);
            var countAll = await cluster.Controls[1].Raw.GetAllClientCountAsync(new GetAllClientCountRequest(), cancellationToken: ct);
            Assert.Equal(4, countAll.Reach.GatewaysAsked);

            // The last member leaving takes the interest away (lazily): then the group's pushes stay on the called gateway.
            foreach (var c in clients)
            {
                await cluster.Controls[0].LeaveGroupAsync(c.ClientId, group, ct);
            }
            await WaitUntilAsync(async () => (await cluster.Controls[1].Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, Text = "P:3000" }, cancellationToken: ct)).Reach.GatewaysAsked == 1,
                "the group's interest on gateway 0 is gone from gateway 1's view", ct);
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }
}
