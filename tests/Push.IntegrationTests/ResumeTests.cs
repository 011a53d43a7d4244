using System.Net.WebSockets;
using System.Text.Json;
using Push.Testing;
using static Push.IntegrationTests.TestHelpers;

namespace Push.IntegrationTests;

/// <summary>
/// Resumable connections (push.v1) on one secured `push start` with default limits: an abrupt drop keeps the client
/// (id, uid, group, session) and what is pushed meanwhile, the resume replays it exactly once and in order, and every
/// refusal says why in the welcome.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ResumeTests(SuiteFixture fixture) : IClassFixture<SuiteFixture>
{
    [Fact]
    public async Task AbruptDrop_ThenResume_ReplaysWhatWasPushedMeanwhile_ExactlyOnceInOrder()
    {
        var ct = TestTimeouts.Token();
        var uid = "u-" + Guid.NewGuid().ToString("N")[..8];
        var group = "g-" + Guid.NewGuid().ToString("N")[..8];
        var first = await ResumableClient.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        Assert.False(first.Welcome.Resumed);
        Assert.Null(first.Welcome.ResumeFailed);
        Assert.Equal(0UL, first.Welcome.Seq);
        var greeting = await first.ReceiveAsync(ct); // the demo worker's {"clientId":...}
        Assert.Equal(1UL, greeting.Seq);
        Assert.Contains(first.Welcome.ClientId, greeting.Text, StringComparison.Ordinal);
        await fixture.Control.BindUidAsync(first.Welcome.ClientId, uid, ct);
        await fixture.Control.JoinGroupAsync(first.Welcome.ClientId, group, ct);
        await fixture.Control.UpdateSessionAsync(first.Welcome.ClientId, new Dictionary<string, string> { ["room"] = "lobby" }, ct);

        for (var i = 1; i <= 20; i++)
        {
            await PushAsync(i, uid, group, ct);
        }
        for (var i = 1; i <= 20; i++)
        {
            var m = await first.ReceiveAsync(ct);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), m.Text);
            Assert.Equal((ulong)i + 1, m.Seq);
        }
        var token = first.ResumeToken;
        first.Abort();
        await first.DisposeAsync();

        // While the client is away it stays online, in its uid and group, and pushes to it are taken (buffered).
        for (var i = 21; i <= 60; i++)
        {
            Assert.Equal(1, await PushAsync(i, uid, group, ct));
        }
        Assert.True(await fixture.Control.IsOnlineAsync(token.Welcome.ClientId, ct));

        await using var second = await ResumableClient.ConnectAsync(fixture.Suite.Ws, token, cancellationToken: ct);
        Assert.True(second.Welcome.Resumed, $"not resumed: {second.Welcome.ResumeFailed}");
        Assert.Equal(token.Welcome.ClientId, second.Welcome.ClientId);
        Assert.Equal(token.LastSeq, second.Welcome.Seq);
        for (var i = 21; i <= 60; i++)
        {
            var m = await second.ReceiveAsync(ct);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), m.Text);
            Assert.Equal(token.LastSeq + (ulong)(i - 20), m.Seq);
        }
        // Live again, still the same client: no new greeting (the worker saw no close and no connect).
        await PushAsync(61, uid, group, ct);
        Assert.Equal("61", (await second.ReceiveAsync(ct)).Text);
        Assert.Equal(uid, await fixture.Control.GetUidByClientIdAsync(second.Welcome.ClientId, ct));
        Assert.Contains(second.Welcome.ClientId, await fixture.Control.GetClientIdListByGroupAsync(group, ct));
        Assert.Equal("lobby", (await fixture.Control.GetSessionAsync(second.Welcome.ClientId, ct))["room"]);
        await second.SendTextAsync("echo me", ct);
        Assert.Equal("echo me", (await second.ReceiveAsync(ct)).Text);
    }

    [Fact]
    public async Task ResumeWithAWrongSecret_GetsANewIdentityAndSaysWhy_TheRealOneStaysResumable()
    {
        var ct = TestTimeouts.Token();
        var first = await ResumableClient.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await first.ReceiveAsync(ct);
        var token = first.ResumeToken;
        first.Abort();
        await first.DisposeAsync();

        var forged = (token.Welcome with { Secret = new string('0', 32) }, token.LastSeq);
        await using (var intruder = await ResumableClient.ConnectAsync(fixture.Suite.Ws, forged, cancellationToken: ct))
        {
            Assert.False(intruder.Welcome.Resumed);
            Assert.Equal("secret", intruder.Welcome.ResumeFailed);
            Assert.NotEqual(token.Welcome.ClientId, intruder.Welcome.ClientId);
        }

        await using var owner = await ResumableClient.ConnectAsync(fixture.Suite.Ws, token, cancellationToken: ct);
        Assert.True(owner.Welcome.Resumed, $"not resumed: {owner.Welcome.ResumeFailed}");
        Assert.Equal(token.Welcome.ClientId, owner.Welcome.ClientId);
    }

    [Fact]
    public async Task ClientClosesForGood_ItIsGoneAtOnce_AndCannotResume()
    {
        var ct = TestTimeouts.Token();
        var first = await ResumableClient.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await first.ReceiveAsync(ct);
        var token = first.ResumeToken;
        await first.SendControlAsync("{\"type\":\"close\"}", ct);
        var (status, _) = await first.Closed.WaitAsync(ct);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, status);
        await first.DisposeAsync();
        await WaitUntilAsync(async () => !await fixture.Control.IsOnlineAsync(token.Welcome.ClientId, ct), "the client that closed for good is offline", ct);

        await using var again = await ResumableClient.ConnectAsync(fixture.Suite.Ws, token, cancellationToken: ct);
        Assert.False(again.Welcome.Resumed);
        Assert.Equal("expired", again.Welcome.ResumeFailed);
    }

    [Fact]
    public async Task ResumeFromBeforeTheAcknowledgedPoint_IsRefused_AsOverflow()
    {
        var ct = TestTimeouts.Token();
        var first = await ResumableClient.ConnectAsync(fixture.Suite.Ws, autoAck: false, cancellationToken: ct);
        await first.ReceiveAsync(ct);
        for (var i = 0; i < 3; i++)
        {
            await fixture.Control.SendToClientAsync(first.Welcome.ClientId, "m" + i, ct);
            await first.ReceiveAsync(ct);
        }
        await first.AckAsync(4); // greeting + 3
        // The ack frees them: a resume that claims to have only the greeting cannot be served.
        await fixture.Control.SendToClientAsync(first.Welcome.ClientId, "after", ct);
        Assert.Equal("after", (await first.ReceiveAsync(ct)).Text);
        var stale = (first.Welcome, 1UL);
        first.Abort();
        await first.DisposeAsync();

        await using var again = await ResumableClient.ConnectAsync(fixture.Suite.Ws, stale, cancellationToken: ct);
        Assert.False(again.Welcome.Resumed);
        Assert.Equal("overflow", again.Welcome.ResumeFailed);
    }

    [Fact]
    public async Task BinaryMessages_CarryTheDataPrefix_BothWays()
    {
        var ct = TestTimeouts.Token();
        await using var c = await ResumableClient.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await c.ReceiveAsync(ct);
        await fixture.Control.SendToClientAsync(c.Welcome.ClientId, new byte[] { 9, 8, 7 }, ct);
        var m = await c.ReceiveAsync(ct);
        Assert.Equal(WebSocketMessageType.Binary, m.Type);
        Assert.Equal(new byte[] { 9, 8, 7 }, m.Data);
        // The demo worker echoes binary: the client's 0x00 prefix is stripped before the worker sees it, and added back.
        await c.Socket.SendAsync(new byte[] { 0x00, 1, 2 }, WebSocketMessageType.Binary, true, ct);
        var echo = await c.ReceiveAsync(ct);
        Assert.Equal(new byte[] { 1, 2 }, echo.Data);
    }

    [Fact]
    public async Task PingControl_IsAnsweredWithPong_AndAnUnknownBinaryPrefixIsAProtocolError()
    {
        var ct = TestTimeouts.Token();
        await using var c = await ResumableClient.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await c.ReceiveAsync(ct);
        await c.SendControlAsync("{\"type\":\"ping\"}", ct);
        await WaitUntilAsync(() => Task.FromResult(c.Controls.Any(j => JsonDocument.Parse(j).RootElement.GetProperty("type").GetString() == "pong")), "a pong arrives", ct);
        await c.Socket.SendAsync(new byte[] { 0x07, 1 }, WebSocketMessageType.Binary, true, ct);
        var (status, _) = await c.Closed.WaitAsync(ct);
        Assert.Equal(WebSocketCloseStatus.ProtocolError, status);
    }

    [Fact]
    public async Task APlainClientOfferingAnotherSubprotocol_GetsNoWelcome()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, configure: o => o.AddSubProtocol("chat"), cancellationToken: ct);
        Assert.Equal("chat", ws.Socket.SubProtocol);
        Assert.Equal(40, ws.ClientId.Length); // the greeting was the first frame
    }

    private async Task<long> PushAsync(int i, string uid, string group, CancellationToken ct)
    {
        var text = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return i % 2 == 0 ? await fixture.Control.SendToGroupAsync(group, text, ct) : await fixture.Control.SendToUidAsync(uid, text, ct);
    }
}
