using System.Net.WebSockets;
using Google.Protobuf;
using Push.Testing;
using Push.V1;
using static Push.IntegrationTests.TestHelpers;

namespace Push.IntegrationTests;

/// <summary>CloseClient, DestroyClient and IsOnline, and what a closed client leaves behind (nothing).</summary>
[Trait("Category", "Integration")]
public sealed class ClientLifecycleTests(SuiteFixture fixture) : IClassFixture<SuiteFixture>
{
    private readonly GatewayService.GatewayServiceClient _raw = fixture.Control.Raw;

    [Fact]
    public async Task CloseClient_WithLastMessage_ClientGetsItThenClose1000()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        Assert.True(await fixture.Control.IsOnlineAsync(ws.ClientId, ct));

        await fixture.Control.CloseClientAsync(ws.ClientId, "last words", ct);

        await AssertTextAsync(ws, "last words", ct);
        var (status, _) = await ws.Closed.WaitAsync(ct);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
        await WaitUntilAsync(async () => !await fixture.Control.IsOnlineAsync(ws.ClientId, ct), "the closed client is offline", ct);
    }

    [Fact]
    public async Task CloseClient_WithBinaryLastMessage_ArrivesAsBinaryFrame()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);

        await _raw.CloseClientAsync(new CloseClientRequest { ClientId = ws.ClientId, Binary = ByteString.CopyFrom(1, 2, 3) }, cancellationToken: ct);

        await AssertBinaryAsync(ws, [1, 2, 3], ct);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, (await ws.Closed.WaitAsync(ct)).Status);
    }

    [Fact]
    public async Task CloseClient_WithoutMessage_ClientGetsOnlyClose1000()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);

        await fixture.Control.CloseClientAsync(ws.ClientId, cancellationToken: ct);

        var (status, reason) = await ws.Closed.WaitAsync(ct);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
        Assert.Equal("closed by server", reason);
        Assert.True(ws.HasNoPendingMessage, "no message came before the close frame");
        await WaitUntilAsync(async () => !await fixture.Control.IsOnlineAsync(ws.ClientId, ct), "the closed client is offline", ct);
    }

    [Fact]
    public async Task DestroyClient_DropsTheConnectionWithoutCloseHandshake()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await using var other = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);

        await fixture.Control.DestroyClientAsync(ws.ClientId, ct);

        var (status, _) = await ws.Closed.WaitAsync(ct);
        Assert.Null(status); // the TCP connection was cut: no close frame
        await WaitUntilAsync(async () => !await fixture.Control.IsOnlineAsync(ws.ClientId, ct), "the destroyed client is offline", ct);
        Assert.True(await fixture.Control.IsOnlineAsync(other.ClientId, ct));
        await AssertReceivedNothingAsync(other, ct);
    }

    [Fact]
    public async Task IsOnline_TrueForConnected_FalseForUnknownIdsOfThisOrAnotherGateway()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);

        Assert.True(await fixture.Control.IsOnlineAsync(ws.ClientId, ct));
        Assert.False(await fixture.Control.IsOnlineAsync(ws.ClientId[..16] + new string('f', 24), ct));
        Assert.False(await fixture.Control.IsOnlineAsync(OtherGatewayId(ws.ClientId) + ws.ClientId[16..], ct));
    }

    [Theory]
    [InlineData("client closes")]
    [InlineData("CloseClient")]
    [InlineData("DestroyClient")]
    public async Task ClosedClient_IsReleasedFromItsGroupsAndUid(string how)
    {
        var ct = TestTimeouts.Token();
        var (g1, g2, u) = (Unique("g1"), Unique("g2"), Unique("u"));
        await using var stays = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var goes = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await using (goes)
        {
            await fixture.Control.JoinGroupAsync(goes.ClientId, g1, ct);
            await fixture.Control.JoinGroupAsync(goes.ClientId, g2, ct);
            await fixture.Control.JoinGroupAsync(stays.ClientId, g1, ct);
            await fixture.Control.BindUidAsync(goes.ClientId, u, ct);
            Assert.Equal(2, await fixture.Control.GetClientCountByGroupAsync(g1, ct));
            Assert.True(await fixture.Control.IsUidOnlineAsync(u, ct));

            switch (how)
            {
                case "client closes":
                    await goes.CloseAsync(ct);
                    break;
                case "CloseClient":
                    await fixture.Control.CloseClientAsync(goes.ClientId, cancellationToken: ct);
                    break;
                default:
                    await fixture.Control.DestroyClientAsync(goes.ClientId, ct);
                    break;
            }
            await goes.Closed.WaitAsync(ct);

            await WaitUntilAsync(async () => await fixture.Control.GetClientCountByGroupAsync(g1, ct) == 1, $"{g1} counts 1 member", ct);
        }

        Assert.False(await fixture.Control.IsOnlineAsync(goes.ClientId, ct));
        Assert.Equal([stays.ClientId], await fixture.Control.GetClientIdListByGroupAsync(g1, ct));
        Assert.Equal(0, await fixture.Control.GetClientCountByGroupAsync(g2, ct));
        Assert.DoesNotContain(g2, await fixture.Control.GetAllGroupIdListAsync(ct));
        Assert.False(await fixture.Control.IsUidOnlineAsync(u, ct));
        Assert.Empty(await fixture.Control.GetClientIdByUidAsync(u, ct));
        Assert.DoesNotContain(u, await fixture.Control.GetAllUidListAsync(ct));
        Assert.Equal(0, await fixture.Control.SendToUidAsync(u, "gone", ct));
        Assert.Equal(1, await fixture.Control.SendToGroupAsync([g1, g2], "only-stays", ct));
        await AssertTextAsync(stays, "only-stays", ct);
    }

    /// <summary>A gateway id that is not the one in <paramref name="clientId"/>.</summary>
    internal static string OtherGatewayId(string clientId)
        => clientId[..16] == "0123456789abcdef" ? "fedcba9876543210" : "0123456789abcdef";
}
