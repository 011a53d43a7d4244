using Push.Testing;
using Push.V1;
using Xunit.Abstractions;
using static Push.IntegrationTests.TestHelpers;

namespace Push.IntegrationTests;

/// <summary>
/// Methods that act on or count every client (SendToAll, GetAll*, GetStatus). They own their `push start` process:
/// each test first waits (bounded poll) until the previous test's clients are gone, then asserts exact figures.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ClusterWideTests(SuiteFixture fixture, ITestOutputHelper output) : IClassFixture<SuiteFixture>
{
    private readonly GatewayService.GatewayServiceClient _raw = fixture.Control.Raw;

    [Fact]
    public async Task SendToAll_ReachesEveryClient_MinusExclusions_TextAndBinary()
    {
        var ct = TestTimeouts.Token();
        await WaitForClientCountAsync(fixture.Control, 0, ct);
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            var (a, b, c) = (sockets[0], sockets[1], sockets[2]);

            var all = await _raw.SendToAllAsync(new SendToAllRequest { Text = "everyone" }, cancellationToken: ct);
            Assert.Equal(3, all.Delivered);
            Assert.Equal(1, all.Reach.GatewaysTotal);
            Assert.Equal(1, all.Reach.GatewaysAnswered);
            Assert.Equal(3, await fixture.Control.SendToAllAsync(new byte[] { 0xAB }, cancellationToken: ct));
            foreach (var s in sockets)
            {
                await AssertTextAsync(s, "everyone", ct);
                await AssertBinaryAsync(s, [0xAB], ct);
            }

            Assert.Equal(1, await fixture.Control.SendToAllExceptAsync([a.ClientId, b.ClientId], "not-a-b", ct));
            await AssertTextAsync(c, "not-a-b", ct);

            var batch = await _raw.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { All = true, Text = "batch-all" } } }, cancellationToken: ct);
            Assert.Equal(3, batch.Delivered);
            foreach (var s in sockets)
            {
                await AssertTextAsync(s, "batch-all", ct);
                await AssertReceivedNothingAsync(s, ct);
            }
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Fact]
    public async Task SendBatch_RunsForTheSameTarget_KeepTheItemsOrderForEveryClient()
    {
        var ct = TestTimeouts.Token();
        await WaitForClientCountAsync(fixture.Control, 0, ct);
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            var (a, b, c) = (sockets[0], sockets[1], sockets[2]);
            var g = Unique("g");
            await fixture.Control.JoinGroupAsync(b.ClientId, g, ct);
            await fixture.Control.JoinGroupAsync(c.ClientId, g, ct);

            // Runs: two group items, three items for everyone, one group item, one for a client, one for everyone.
            var batch = await _raw.SendBatchAsync(new SendBatchRequest
            {
                Items =
                {
                    new BatchItem { Groups = { g }, Text = "g1" },
                    new BatchItem { Groups = { g }, Text = "g2" },
                    new BatchItem { All = true, Text = "a1" },
                    new BatchItem { All = true, Text = "a2" },
                    new BatchItem { All = true, Text = "a3" },
                    new BatchItem { Groups = { g }, Text = "g3" },
                    new BatchItem { ClientId = a.ClientId, Text = "x" },
                    new BatchItem { All = true, Text = "a4" },
                },
            }, cancellationToken: ct);

            Assert.Equal((2 * 2) + (3 * 3) + 2 + 1 + 3, batch.Delivered);
            foreach (var text in new[] { "a1", "a2", "a3", "x", "a4" })
            {
                await AssertTextAsync(a, text, ct);
            }
            foreach (var s in new[] { b, c })
            {
                foreach (var text in new[] { "g1", "g2", "a1", "a2", "a3", "g3", "a4" })
                {
                    await AssertTextAsync(s, text, ct);
                }
            }
            foreach (var s in sockets)
            {
                await AssertReceivedNothingAsync(s, ct);
            }
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Fact]
    public async Task AllQueries_ListAndCountEveryClientUidAndGroup()
    {
        var ct = TestTimeouts.Token();
        await WaitForClientCountAsync(fixture.Control, 0, ct);
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            var (a, b, c) = (sockets[0].ClientId, sockets[1].ClientId, sockets[2].ClientId);
            var (g1, g2, g3, u1, u2) = (Unique("g1"), Unique("g2"), Unique("g3"), Unique("u1"), Unique("u2"));
            // a: u1, g1+g2, a session; b: u2, g1; c: no uid, g3.
            await fixture.Control.BindUidAsync(a, u1, ct);
            await fixture.Control.BindUidAsync(b, u2, ct);
            await fixture.Control.JoinGroupAsync(a, g1, ct);
            await fixture.Control.JoinGroupAsync(a, g2, ct);
            await fixture.Control.JoinGroupAsync(b, g1, ct);
            await fixture.Control.JoinGroupAsync(c, g3, ct);
            await fixture.Control.SetSessionAsync(a, new Dictionary<string, string> { ["name"] = "alice" }, ct);

            Assert.Equal(3, await fixture.Control.GetAllClientCountAsync(ct));
            Assert.Equal(3, await fixture.Control.GetClientCountByGroupAsync("", ct)); // empty group = every client
            Assert.Equal(2, await fixture.Control.GetClientCountByGroupAsync(g1, ct));
            Assert.Equal(new[] { a, b, c }.Order(StringComparer.Ordinal), await fixture.Control.GetAllClientIdListAsync(ct));

            Assert.Equal(new[] { u1, u2 }.Order(StringComparer.Ordinal), await fixture.Control.GetAllUidListAsync(ct));
            Assert.Equal(2, await fixture.Control.GetAllUidCountAsync(ct));
            Assert.Equal(new[] { g1, g2, g3 }.Order(StringComparer.Ordinal), await fixture.Control.GetAllGroupIdListAsync(ct));

            var groupUids = await _raw.GetAllGroupUidListAsync(new GetAllGroupUidListRequest(), cancellationToken: ct);
            Assert.Equal(2, groupUids.Uids.Count); // g3 has no uids: left out
            Assert.Equal(new[] { u1, u2 }.Order(StringComparer.Ordinal), groupUids.Uids[g1].Uids);
            Assert.Equal([u1], groupUids.Uids[g2].Uids);
            Assert.Equal(1, groupUids.Reach.GatewaysAnswered);

            var groupUidCounts = await _raw.GetAllGroupUidCountAsync(new GetAllGroupUidCountRequest(), cancellationToken: ct);
            Assert.Equal(new Dictionary<string, long> { [g1] = 2, [g2] = 1 }, groupUidCounts.Counts);

            var groupIds = await _raw.GetAllGroupClientIdListAsync(new GetAllGroupClientIdListRequest(), cancellationToken: ct);
            Assert.Equal(3, groupIds.ClientIds.Count);
            Assert.Equal([c], groupIds.ClientIds[g3].ClientIds);
            Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), groupIds.ClientIds[g1].ClientIds.Order(StringComparer.Ordinal));
            Assert.Equal([a], groupIds.ClientIds[g2].ClientIds);

            var groupCounts = await _raw.GetAllGroupClientIdCountAsync(new GetAllGroupClientIdCountRequest(), cancellationToken: ct);
            Assert.Equal(new Dictionary<string, long> { [g1] = 2, [g2] = 1, [g3] = 1 }, groupCounts.Counts);

            var sessions = await fixture.Control.GetAllClientSessionsAsync(ct);
            Assert.Equal(new[] { a, b, c }.Order(StringComparer.Ordinal), sessions.Keys.Order(StringComparer.Ordinal));
            Assert.Equal("alice", sessions[a].Values["name"]);
            Assert.Empty(sessions[b].Values);
            Assert.Empty(sessions[c].Values);

            var inG2 = await _raw.GetAllClientSessionsAsync(new GetAllClientSessionsRequest { Group = g2 }, cancellationToken: ct);
            Assert.Equal([a], inG2.Sessions.Keys);
            Assert.Equal("alice", inG2.Sessions[a].Values["name"]);
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }

        // Every closed client leaves its uid and groups: the cluster is empty again.
        await WaitForClientCountAsync(fixture.Control, 0, ct);
        Assert.Empty(await fixture.Control.GetAllGroupIdListAsync(ct));
        Assert.Empty(await fixture.Control.GetAllUidListAsync(ct));
        Assert.Equal(0, await fixture.Control.GetAllUidCountAsync(ct));
        Assert.Empty((await _raw.GetAllGroupClientIdCountAsync(new GetAllGroupClientIdCountRequest(), cancellationToken: ct)).Counts);
    }

    [Fact]
    public async Task GetStatus_ReportsTheGatewayItsClientsAndTheWorker()
    {
        var ct = TestTimeouts.Token();
        await WaitForClientCountAsync(fixture.Control, 0, ct);
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 2, ct);
        try
        {
            await fixture.Control.JoinGroupAsync(sockets[0].ClientId, Unique("g"), ct);
            await fixture.Control.BindUidAsync(sockets[1].ClientId, Unique("u"), ct);
            await sockets[0].DrainUntilEchoAsync(ct); // one message in, one out

            var status = await fixture.Control.GetStatusAsync(ct);

            output.WriteLine(status.ToString());
            var gw = Assert.Single(status.Gateways);
            Assert.Equal(16, gw.Id.Length);
            Assert.StartsWith(gw.Id, sockets[0].ClientId, StringComparison.Ordinal);
            Assert.Equal(2, gw.Connections);
            Assert.Equal(1, gw.Groups);
            Assert.Equal(1, gw.Uids);
            Assert.Equal(1, gw.WorkersConnected);
            Assert.False(gw.Draining);
            Assert.True(gw.MessagesIn >= 1, $"messages_in {gw.MessagesIn}");
            Assert.True(gw.MessagesOut >= 3, $"messages_out {gw.MessagesOut}"); // two greetings and an echo
            Assert.True(gw.Uptime.ToTimeSpan() > TimeSpan.Zero);
            Assert.False(string.IsNullOrEmpty(gw.Address));
            var worker = Assert.Single(status.Workers);
            Assert.False(string.IsNullOrEmpty(worker.Id));
            Assert.Equal(1, status.Reach.GatewaysTotal);
            Assert.Equal(1, status.Reach.GatewaysAnswered);
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }
}
