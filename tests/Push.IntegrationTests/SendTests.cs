using Google.Protobuf;
using Grpc.Core;
using Push.Testing;
using Push.V1;
using static Push.IntegrationTests.TestHelpers;

namespace Push.IntegrationTests;

/// <summary>
/// The send methods of the control API against real WebSocket clients of a running `push start`: what each client
/// receives (and what it does not, shown by a marker round trip through the demo worker's echo).
/// </summary>
[Trait("Category", "Integration")]
public sealed class SendTests(SuiteFixture fixture) : IClassFixture<SuiteFixture>
{
    private readonly GatewayService.GatewayServiceClient _raw = fixture.Control.Raw;

    [Fact]
    public async Task SendToClient_TextArrivesAsTextFrame_BinaryAsBinaryFrame()
    {
        var ct = TestTimeouts.Token();
        await using var a = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await using var b = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        byte[] bytes = [0, 1, 2, 0xFE, 0xFF];

        Assert.Equal(1, await fixture.Control.SendToClientAsync(a.ClientId, "héllo ✓", ct));
        Assert.Equal(1, await fixture.Control.SendToClientAsync(a.ClientId, bytes, ct));

        await AssertTextAsync(a, "héllo ✓", ct);
        await AssertBinaryAsync(a, bytes, ct);
        await AssertReceivedNothingAsync(a, ct);
        await AssertReceivedNothingAsync(b, ct);
    }

    [Fact]
    public async Task SendToClients_OnlyThoseClients_MinusExclusions()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 4, ct);
        try
        {
            var (a, b, c, d) = (sockets[0], sockets[1], sockets[2], sockets[3]);

            var r = await _raw.SendToClientsAsync(new SendToClientsRequest { ClientIds = { a.ClientId, b.ClientId, c.ClientId, a.ClientId }, ExcludeClientIds = { c.ClientId }, Text = "subset" }, cancellationToken: ct);

            Assert.Equal(2, r.Delivered);
            Assert.Equal(1, r.Reach.GatewaysTotal);
            Assert.Equal(1, r.Reach.GatewaysAnswered);
            Assert.Empty(r.Reach.UnreachableGatewayIds);
            await AssertTextAsync(a, "subset", ct);
            await AssertTextAsync(b, "subset", ct);
            await AssertReceivedNothingAsync(a, ct); // the id named twice is sent once
            await AssertReceivedNothingAsync(c, ct);
            await AssertReceivedNothingAsync(d, ct);

            Assert.Equal(1, await fixture.Control.SendToClientsAsync([d.ClientId], new byte[] { 7, 7 }, cancellationToken: ct));
            Assert.Equal(1, await fixture.Control.SendToClientsAsync([a.ClientId, b.ClientId], "not-b", excludeClientIds: [b.ClientId], cancellationToken: ct));
            await AssertBinaryAsync(d, [7, 7], ct);
            await AssertTextAsync(a, "not-b", ct);
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
    public async Task SendToClients_EmptyList_IsInvalidArgument_NobodyReceivesAnything()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 2, ct);
        try
        {
            // A recipient filter that came out empty: with or without exclusions, text or binary, it is refused.
            await AssertRpcErrorAsync(() => _raw.SendToClientsAsync(new SendToClientsRequest { Text = "nobody" }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "client_ids");
            await AssertRpcErrorAsync(() => _raw.SendToClientsAsync(new SendToClientsRequest { ExcludeClientIds = { sockets[0].ClientId }, Binary = ByteString.CopyFrom(1) }, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "client_ids");
            // The library refuses it before calling.
            var ex = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Control.SendToClientsAsync([], "nobody", cancellationToken: ct));
            Assert.Equal("clientIds", ex.ParamName);

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
    public async Task SendToAll_FromCallerOfTheOldContractWithClientIds_IsInvalidArgument_NobodyReceivesAnything()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 2, ct);
        try
        {
            // A backend built before the break sends SendToAll with field 1 (client_ids) set: the gateway must not
            // ignore it as an unknown field and send to everyone. Field 1 and the payload fields 3/4 of
            // SendToClientsRequest have the numbers the old SendToAllRequest had.
            var old = SendToAllRequest.Parser.ParseFrom(new SendToClientsRequest { ClientIds = { sockets[0].ClientId }, Text = "only-a" }.ToByteArray());
            Assert.Equal("only-a", old.Text);

            await AssertRpcErrorAsync(() => _raw.SendToAllAsync(old, cancellationToken: ct).ResponseAsync, StatusCode.InvalidArgument, InvalidField, field: "client_ids");

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
    public async Task SendToUid_OneUid_ReachesEveryConnectionOfIt()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            var uid = Unique("uid");
            await fixture.Control.BindUidAsync(sockets[0].ClientId, uid, ct);
            await fixture.Control.BindUidAsync(sockets[1].ClientId, uid, ct);

            Assert.Equal(2, await fixture.Control.SendToUidAsync(uid, "for-uid", ct));
            Assert.Equal(2, await fixture.Control.SendToUidAsync([uid], new byte[] { 42 }, ct));

            foreach (var s in sockets[..2])
            {
                await AssertTextAsync(s, "for-uid", ct);
                await AssertBinaryAsync(s, [42], ct);
                await AssertReceivedNothingAsync(s, ct);
            }
            await AssertReceivedNothingAsync(sockets[2], ct);
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Fact]
    public async Task SendToUid_ManyUids_ReachesEach_UnknownUidIsIgnored()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            var (u1, u2, u3) = (Unique("u1"), Unique("u2"), Unique("u3"));
            await fixture.Control.BindUidAsync(sockets[0].ClientId, u1, ct);
            await fixture.Control.BindUidAsync(sockets[1].ClientId, u2, ct);
            await fixture.Control.BindUidAsync(sockets[2].ClientId, u3, ct);

            var r = await _raw.SendToUidAsync(new SendToUidRequest { Uids = { u1, u2, u1, Unique("nobody") }, Text = "many" }, cancellationToken: ct);

            Assert.Equal(2, r.Delivered);
            Assert.Equal(1, r.Reach.GatewaysAnswered);
            await AssertTextAsync(sockets[0], "many", ct);
            await AssertTextAsync(sockets[1], "many", ct);
            await AssertReceivedNothingAsync(sockets[0], ct); // u1 named twice: sent once
            await AssertReceivedNothingAsync(sockets[2], ct);
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Fact]
    public async Task SendToGroup_OneGroup_ReachesMembersOnly()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            var g = Unique("g");
            await fixture.Control.JoinGroupAsync(sockets[0].ClientId, g, ct);
            await fixture.Control.JoinGroupAsync(sockets[1].ClientId, g, ct);

            Assert.Equal(2, await fixture.Control.SendToGroupAsync(g, "to-group", ct));
            Assert.Equal(2, await fixture.Control.SendToGroupAsync([g], new byte[] { 1, 2, 3 }, ct));

            foreach (var s in sockets[..2])
            {
                await AssertTextAsync(s, "to-group", ct);
                await AssertBinaryAsync(s, [1, 2, 3], ct);
            }
            await AssertReceivedNothingAsync(sockets[2], ct);
            Assert.Equal(0, await fixture.Control.SendToGroupAsync(Unique("empty"), "nobody", ct));
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Fact]
    public async Task SendToGroup_ManyGroups_ClientInTwoGroupsGetsItOnce_ExclusionsLeftOut()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 4, ct);
        try
        {
            var (g1, g2) = (Unique("g1"), Unique("g2"));
            var (a, b, c, d) = (sockets[0], sockets[1], sockets[2], sockets[3]);
            await fixture.Control.JoinGroupAsync(a.ClientId, g1, ct);
            await fixture.Control.JoinGroupAsync(b.ClientId, g1, ct);
            await fixture.Control.JoinGroupAsync(b.ClientId, g2, ct); // b is in both
            await fixture.Control.JoinGroupAsync(c.ClientId, g2, ct);
            await fixture.Control.JoinGroupAsync(d.ClientId, g2, ct);

            var both = await _raw.SendToGroupAsync(new SendToGroupRequest { Groups = { g1, g2 }, Text = "both" }, cancellationToken: ct);
            Assert.Equal(4, both.Delivered);
            foreach (var s in sockets)
            {
                await AssertTextAsync(s, "both", ct);
                await AssertReceivedNothingAsync(s, ct);
            }

            var excluded = await fixture.Control.SendToGroupAsync([g1, g2], "minus", [b.ClientId, d.ClientId], ct);
            Assert.Equal(2, excluded);
            await AssertTextAsync(a, "minus", ct);
            await AssertTextAsync(c, "minus", ct);
            await AssertReceivedNothingAsync(b, ct);
            await AssertReceivedNothingAsync(d, ct);
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Fact]
    public async Task SendBatch_EachItemReachesItsTargets_InOrder()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            var (a, b, c) = (sockets[0], sockets[1], sockets[2]);
            var (g, u) = (Unique("g"), Unique("u"));
            await fixture.Control.JoinGroupAsync(b.ClientId, g, ct);
            await fixture.Control.BindUidAsync(c.ClientId, u, ct);

            var r = await _raw.SendBatchAsync(new SendBatchRequest
            {
                Items =
                {
                    new BatchItem { ClientId = a.ClientId, Text = "one" },
                    new BatchItem { Groups = { g }, Binary = ByteString.CopyFrom(9, 8) },
                    new BatchItem { Uids = { u }, Text = "three" },
                    new BatchItem { ClientId = a.ClientId, Text = "four" },
                },
            }, cancellationToken: ct);

            Assert.Equal(4, r.Delivered);
            Assert.Equal(1, r.Reach.GatewaysAnswered);
            await AssertTextAsync(a, "one", ct);
            await AssertTextAsync(a, "four", ct);
            await AssertBinaryAsync(b, [9, 8], ct);
            await AssertTextAsync(c, "three", ct);
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
}
