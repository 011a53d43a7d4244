using System.Text.Json;
using Grpc.Core;
using Push.Testing;
using Push.V1;
using static Push.IntegrationTests.TestHelpers;

namespace Push.IntegrationTests;

/// <summary>Uid binding, group membership and session methods, and the queries over uids and groups.</summary>
[Trait("Category", "Integration")]
public sealed class UidGroupSessionTests(SuiteFixture fixture) : IClassFixture<SuiteFixture>
{
    private readonly GatewayService.GatewayServiceClient _raw = fixture.Control.Raw;

    [Fact]
    public async Task BindUid_ThenUidQueriesAnswer()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 4, ct);
        try
        {
            var (a, b, c, d) = (sockets[0].ClientId, sockets[1].ClientId, sockets[2].ClientId, sockets[3].ClientId);
            var (u1, u2, nobody) = (Unique("u1"), Unique("u2"), Unique("nobody"));
            await fixture.Control.BindUidAsync(a, u1, ct);
            await fixture.Control.BindUidAsync(b, u1, ct);
            await fixture.Control.BindUidAsync(c, u2, ct);
            await fixture.Control.BindUidAsync(c, u2, ct); // binding again is a no-op

            Assert.True(await fixture.Control.IsUidOnlineAsync(u1, ct));
            Assert.False(await fixture.Control.IsUidOnlineAsync(nobody, ct));

            var online = await _raw.IsUidsOnlineAsync(new IsUidsOnlineRequest { Uids = { u1, u2, nobody } }, cancellationToken: ct);
            Assert.Equal(new Dictionary<string, bool> { [u1] = true, [u2] = true, [nobody] = false }, online.Online);
            Assert.Equal(1, online.Reach.GatewaysAnswered);

            Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), await fixture.Control.GetClientIdByUidAsync(u1, ct));
            Assert.Equal([c], await fixture.Control.GetClientIdByUidAsync(u2, ct));
            Assert.Empty(await fixture.Control.GetClientIdByUidAsync(nobody, ct));

            var batch = await _raw.BatchGetClientIdByUidAsync(new BatchGetClientIdByUidRequest { Uids = { u1, u2, nobody } }, cancellationToken: ct);
            Assert.Equal(new[] { u1, u2 }.Order(StringComparer.Ordinal), batch.ClientIds.Keys.Order(StringComparer.Ordinal)); // uids with none are left out
            Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), batch.ClientIds[u1].ClientIds.Order(StringComparer.Ordinal));
            Assert.Equal([c], batch.ClientIds[u2].ClientIds);

            Assert.Equal(u1, await fixture.Control.GetUidByClientIdAsync(a, ct));
            Assert.Equal(u2, await fixture.Control.GetUidByClientIdAsync(c, ct));
            Assert.Null(await fixture.Control.GetUidByClientIdAsync(d, ct));
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Fact]
    public async Task BindUid_AgainWithAnotherUid_MovesTheClient()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var (u1, u2) = (Unique("u1"), Unique("u2"));

        await fixture.Control.BindUidAsync(ws.ClientId, u1, ct);
        await fixture.Control.BindUidAsync(ws.ClientId, u2, ct);

        Assert.Equal(u2, await fixture.Control.GetUidByClientIdAsync(ws.ClientId, ct));
        Assert.False(await fixture.Control.IsUidOnlineAsync(u1, ct));
        Assert.Empty(await fixture.Control.GetClientIdByUidAsync(u1, ct));
        Assert.Equal(0, await fixture.Control.SendToUidAsync(u1, "old", ct));
        Assert.Equal(1, await fixture.Control.SendToUidAsync(u2, "new", ct));
        await AssertTextAsync(ws, "new", ct);
        await AssertReceivedNothingAsync(ws, ct);
    }

    [Fact]
    public async Task UnbindUid_RemovesTheBinding_AWrongUidIsRefusedAndChangesNothing()
    {
        var ct = TestTimeouts.Token();
        await using var a = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await using var b = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var u = Unique("u");
        await fixture.Control.BindUidAsync(a.ClientId, u, ct);
        await fixture.Control.BindUidAsync(b.ClientId, u, ct);

        await AssertRpcErrorAsync(() => fixture.Control.UnbindUidAsync(a.ClientId, Unique("other"), ct), StatusCode.FailedPrecondition, InvalidField, field: "uid");
        Assert.Equal(u, await fixture.Control.GetUidByClientIdAsync(a.ClientId, ct));

        await fixture.Control.UnbindUidAsync(a.ClientId, u, ct);
        Assert.Null(await fixture.Control.GetUidByClientIdAsync(a.ClientId, ct));
        Assert.Equal([b.ClientId], await fixture.Control.GetClientIdByUidAsync(u, ct));
        Assert.True(await fixture.Control.IsUidOnlineAsync(u, ct));

        await fixture.Control.UnbindUidAsync(b.ClientId, "", ct); // no uid named: whatever it is bound to
        await fixture.Control.UnbindUidAsync(b.ClientId, "", ct); // unbinding an unbound client is a no-op
        Assert.False(await fixture.Control.IsUidOnlineAsync(u, ct));
        Assert.Equal(0, await fixture.Control.SendToUidAsync(u, "nobody", ct));
        await AssertReceivedNothingAsync(a, ct);
        await AssertReceivedNothingAsync(b, ct);
    }

    [Fact]
    public async Task JoinGroup_LeaveGroup_ChangeMembershipAndDelivery()
    {
        var ct = TestTimeouts.Token();
        await using var a = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await using var b = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var g = Unique("g");

        await fixture.Control.JoinGroupAsync(a.ClientId, g, ct);
        await fixture.Control.JoinGroupAsync(a.ClientId, g, ct); // joining twice is a no-op
        await fixture.Control.JoinGroupAsync(b.ClientId, g, ct);
        Assert.Equal(2, await fixture.Control.GetClientCountByGroupAsync(g, ct));
        Assert.Contains(g, await fixture.Control.GetAllGroupIdListAsync(ct));

        await fixture.Control.LeaveGroupAsync(a.ClientId, g, ct);
        await fixture.Control.LeaveGroupAsync(a.ClientId, g, ct); // leaving a group one is not in is a no-op
        Assert.Equal([b.ClientId], await fixture.Control.GetClientIdListByGroupAsync(g, ct));
        Assert.Equal(1, await fixture.Control.SendToGroupAsync(g, "after-leave", ct));
        await AssertTextAsync(b, "after-leave", ct);
        await AssertReceivedNothingAsync(a, ct);

        await fixture.Control.LeaveGroupAsync(b.ClientId, g, ct);
        Assert.Equal(0, await fixture.Control.GetClientCountByGroupAsync(g, ct));
        Assert.DoesNotContain(g, await fixture.Control.GetAllGroupIdListAsync(ct));
    }

    [Fact]
    public async Task Ungroup_DissolvesTheGroup_ClientsStayConnected()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            var (g, keep) = (Unique("g"), Unique("keep"));
            foreach (var s in sockets)
            {
                await fixture.Control.JoinGroupAsync(s.ClientId, g, ct);
            }
            await fixture.Control.JoinGroupAsync(sockets[0].ClientId, keep, ct);

            var r = await _raw.UngroupAsync(new UngroupRequest { Group = g }, cancellationToken: ct);

            Assert.Equal(3, r.Removed);
            Assert.Equal(1, r.Reach.GatewaysAnswered);
            Assert.Equal(0, await fixture.Control.GetClientCountByGroupAsync(g, ct));
            Assert.DoesNotContain(g, await fixture.Control.GetAllGroupIdListAsync(ct));
            Assert.Equal(0, await fixture.Control.SendToGroupAsync(g, "dissolved", ct));
            Assert.Equal([sockets[0].ClientId], await fixture.Control.GetClientIdListByGroupAsync(keep, ct)); // other groups kept
            Assert.Equal(0, (await _raw.UngroupAsync(new UngroupRequest { Group = g }, cancellationToken: ct)).Removed);
            foreach (var s in sockets)
            {
                Assert.True(await fixture.Control.IsOnlineAsync(s.ClientId, ct));
                await AssertReceivedNothingAsync(s, ct);
            }
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Fact]
    public async Task GroupQueries_ListAndCountMembersUidsAndSessions()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 4, ct);
        try
        {
            var (a, b, c, d) = (sockets[0].ClientId, sockets[1].ClientId, sockets[2].ClientId, sockets[3].ClientId);
            var (g1, g2, empty, u1, u2) = (Unique("g1"), Unique("g2"), Unique("empty"), Unique("u1"), Unique("u2"));
            // g1: a(u1), b(u1), c(u2); g2: c(u2), d(no uid)
            await fixture.Control.JoinGroupAsync(a, g1, ct);
            await fixture.Control.JoinGroupAsync(b, g1, ct);
            await fixture.Control.JoinGroupAsync(c, g1, ct);
            await fixture.Control.JoinGroupAsync(c, g2, ct);
            await fixture.Control.JoinGroupAsync(d, g2, ct);
            await fixture.Control.BindUidAsync(a, u1, ct);
            await fixture.Control.BindUidAsync(b, u1, ct);
            await fixture.Control.BindUidAsync(c, u2, ct);
            await fixture.Control.SetSessionAsync(c, new Dictionary<string, string> { ["role"] = "admin" }, ct);

            Assert.Equal(new[] { a, b, c }.Order(StringComparer.Ordinal), await fixture.Control.GetClientIdListByGroupAsync(g1, ct));
            Assert.Empty(await fixture.Control.GetClientIdListByGroupAsync(empty, ct));
            Assert.Equal(3, await fixture.Control.GetClientCountByGroupAsync(g1, ct));
            Assert.Equal(0, await fixture.Control.GetClientCountByGroupAsync(empty, ct));

            var counts = await _raw.BatchGetClientCountByGroupAsync(new BatchGetClientCountByGroupRequest { Groups = { g1, g2, empty, g1 } }, cancellationToken: ct);
            Assert.Equal(new Dictionary<string, long> { [g1] = 3, [g2] = 2, [empty] = 0 }, counts.Counts);

            Assert.Equal(new[] { u1, u2 }.Order(StringComparer.Ordinal), await fixture.Control.GetUidListByGroupAsync(g1, ct)); // distinct
            Assert.Equal([u2], await fixture.Control.GetUidListByGroupAsync(g2, ct)); // d has none
            Assert.Equal(2, await fixture.Control.GetUidCountByGroupAsync(g1, ct));
            Assert.Equal(1, await fixture.Control.GetUidCountByGroupAsync(g2, ct));
            Assert.Equal(0, await fixture.Control.GetUidCountByGroupAsync(empty, ct));

            var sessions = await fixture.Control.GetClientSessionsByGroupAsync(g2, ct);
            Assert.Equal(new[] { c, d }.Order(StringComparer.Ordinal), sessions.Keys.Order(StringComparer.Ordinal));
            Assert.Equal("admin", sessions[c].Values["role"]);
            Assert.Empty(sessions[d].Values);
            Assert.Empty(await fixture.Control.GetClientSessionsByGroupAsync(empty, ct));

            var all = await _raw.GetAllClientSessionsAsync(new GetAllClientSessionsRequest { Group = g1 }, cancellationToken: ct);
            Assert.Equal(new[] { a, b, c }.Order(StringComparer.Ordinal), all.Sessions.Keys.Order(StringComparer.Ordinal));
            Assert.Equal("admin", all.Sessions[c].Values["role"]);

            // Without a group: every client of the gateway, these four among them.
            var everyone = await fixture.Control.GetAllClientSessionsAsync(ct);
            Assert.All(new[] { a, b, c, d }, id => Assert.True(everyone.ContainsKey(id)));
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Fact]
    public async Task Sessions_SetReplaces_UpdateMerges_GetReads_AndTheWorkerSeesThem()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var id = ws.ClientId;
        Assert.Empty(await fixture.Control.GetSessionAsync(id, ct));

        await fixture.Control.SetSessionAsync(id, new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, ct);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, await fixture.Control.GetSessionAsync(id, ct));

        await fixture.Control.UpdateSessionAsync(id, new Dictionary<string, string> { ["b"] = "3", ["c"] = "4" }, ct);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "3", ["c"] = "4" }, await fixture.Control.GetSessionAsync(id, ct));

        // The demo worker's "whoami" answers with the session the gateway sent it with the message event.
        await ws.SendTextAsync("{\"type\":\"whoami\"}", ct);
        using (var doc = JsonDocument.Parse(await ws.ReceiveTextAsync(ct)))
        {
            var session = doc.RootElement.GetProperty("session");
            Assert.Equal("1", session.GetProperty("a").GetString());
            Assert.Equal("3", session.GetProperty("b").GetString());
            Assert.Equal("4", session.GetProperty("c").GetString());
        }

        await fixture.Control.SetSessionAsync(id, new Dictionary<string, string> { ["x"] = "y" }, ct);
        Assert.Equal(new Dictionary<string, string> { ["x"] = "y" }, await fixture.Control.GetSessionAsync(id, ct));

        await fixture.Control.SetSessionAsync(id, new Dictionary<string, string>(), ct);
        Assert.Empty(await fixture.Control.GetSessionAsync(id, ct));

        // A session change made by the worker (the demo's "join" stores the room) is read back through GetSession.
        var room = Unique("room");
        await ws.SendTextAsync($"{{\"type\":\"join\",\"group\":\"{room}\"}}", ct);
        await AssertTextAsync(ws, $"{{\"joined\":\"{room}\"}}", ct);
        await ws.DrainUntilEchoAsync(ct); // the worker's commands for the join are applied before the echo's
        Assert.Equal(room, (await fixture.Control.GetSessionAsync(id, ct))["room"]);
        Assert.Equal([id], await fixture.Control.GetClientIdListByGroupAsync(room, ct));
    }
    [Fact]
    public async Task StreamClients_PagesAGroupsMembersWithUidGroupsAndSessions()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            var (g, other, u) = (Unique("g"), Unique("other"), Unique("u"));
            foreach (var s in sockets)
            {
                await fixture.Control.JoinGroupAsync(s.ClientId, g, ct);
            }
            await fixture.Control.JoinGroupAsync(sockets[0].ClientId, other, ct);
            await fixture.Control.BindUidAsync(sockets[0].ClientId, u, ct);
            await fixture.Control.SetSessionAsync(sockets[0].ClientId, new Dictionary<string, string> { ["k"] = "v" }, ct);

            using var call = _raw.StreamClients(new StreamClientsRequest { Group = g, PageSize = 2, IncludeSessions = true }, cancellationToken: ct);
            var pages = new List<StreamClientsResponse>();
            await foreach (var page in call.ResponseStream.ReadAllAsync(ct))
            {
                pages.Add(page);
            }

            Assert.Equal([2, 1, 0], pages.Select(p => p.Clients.Count)); // two pages, then the reach
            Assert.All(pages, p => Assert.Equal(sockets[0].ClientId[..16], p.GatewayId));
            Assert.Null(pages[0].Reach);
            Assert.Equal(1, pages[^1].Reach.GatewaysAnswered);
            var clients = pages.SelectMany(p => p.Clients).ToDictionary(c => c.ClientId);
            Assert.Equal(sockets.Select(s => s.ClientId).Order(StringComparer.Ordinal), clients.Keys.Order(StringComparer.Ordinal));
            var first = clients[sockets[0].ClientId];
            Assert.Equal(u, first.Uid);
            Assert.Equal(new[] { g, other }.Order(StringComparer.Ordinal), first.Groups.Order(StringComparer.Ordinal));
            Assert.Equal("v", first.Session.Values["k"]);
            Assert.Equal("", clients[sockets[1].ClientId].Uid);
            Assert.Equal([g], clients[sockets[1].ClientId].Groups);
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }
}
