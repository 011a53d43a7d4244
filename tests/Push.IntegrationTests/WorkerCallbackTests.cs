using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Push.Control;
using Push.Testing;
using Push.Worker;
using static Push.IntegrationTests.TestHelpers;

namespace Push.IntegrationTests;

/// <summary>
/// A real `push registry` and `push gateway --registry URL`, and this test project's <see cref="ProbeEvents"/> run
/// in-process with <see cref="PushWorkerHost"/>: the custom events class gets every callback.
/// </summary>
public sealed class WorkerClusterFixture : IAsyncLifetime
{
    public PushProcess Registry { get; private set; } = null!;
    public PushProcess Gateway { get; private set; } = null!;
    public WebApplication Worker { get; private set; } = null!;
    public PushControlClient Control { get; private set; } = null!;
    public CallbackLog Log { get; } = new();

    public async Task InitializeAsync()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        Registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        Gateway = await PushProcess.StartAsync("gateway", ["--registry", Registry.GrpcAddress], cancellationToken: ct);
        Control = Gateway.Control();
        Worker = PushWorkerHost.Create<ProbeEvents>(new PushWorkerHostOptions { Registry = { Registry.GrpcAddress }, Secret = TestSecrets.Member }, services =>
        {
            services.AddSingleton(Log);
            services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        });
        await Worker.StartAsync(ct);
        // Clients that connect before the gateway has a worker stream get no callbacks: wait for the stream.
        await WaitUntilAsync(async () => (await Control.GetStatusAsync(ct)).Gateways.Single().WorkersConnected == 1, "the gateway has opened its stream to the test worker", ct);
    }

    public async Task DisposeAsync()
    {
        if (Worker is not null)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Worker.StopAsync(cts.Token);
            await Worker.DisposeAsync();
        }
        Control?.Dispose();
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }
    }
}

[Trait("Category", "Integration")]
public sealed class WorkerCallbackTests(WorkerClusterFixture fixture) : IClassFixture<WorkerClusterFixture>
{
    private CallbackLog Log => fixture.Log;

    private Task<TestWebSocket> ConnectAsync(CancellationToken ct, string path = "/", Action<ClientWebSocketOptions>? configure = null)
        => TestWebSocket.ConnectAsync(fixture.Gateway.Ws, path, configure: configure, cancellationToken: ct);

    [Fact]
    public async Task OnConnect_ThenOnWebSocketConnect_WithPathQueryHeadersAndRemoteAddress()
    {
        var ct = TestTimeouts.Token();
        var room = Unique("room");
        var user = Unique("user");
        await using var ws = await ConnectAsync(ct, $"/probe/path?room={room}&token=a%20b", o =>
        {
            o.SetRequestHeader("X-Probe-Header", "custom value");
            o.SetRequestHeader("X-Probe-User", user);
        });

        var connect = await Log.WaitAsync("connect", ws.ClientId, ct);
        var hs = (await Log.WaitAsync("websocket", ws.ClientId, ct)).Handshake!;

        Assert.Equal(ws.ClientId[..16], connect.GatewayId);
        Assert.Equal(["connect", "websocket"], Log.For(ws.ClientId).Select(c => c.Kind));
        Assert.Equal("/probe/path", hs.Path);
        Assert.Equal($"room={room}&token=a%20b", hs.QueryString);
        Assert.Equal(room, hs.Query["room"]);
        Assert.Equal("a b", hs.Query["token"]);
        Assert.Equal("custom value", hs.Headers["x-probe-header"]);
        Assert.Equal("websocket", hs.Headers["upgrade"], ignoreCase: true);
        Assert.Equal(fixture.Gateway.Ws.Authority, hs.Headers["host"]);
        Assert.Equal("127.0.0.1", hs.RemoteAddress);
        Assert.InRange(hs.RemotePort, 1, 65535);
        Assert.Equal(fixture.Gateway.Ws.Port.ToString(), hs.GatewayEndpoint.Split(':')[^1]);

        // The shortcuts used in OnWebSocketConnect (JoinGroup, BindUid, session) took effect on the gateway.
        await ws.DrainUntilEchoAsync(ct);
        Assert.Equal([ws.ClientId], await fixture.Control.GetClientIdListByGroupAsync(room, ct));
        Assert.Equal(user, await fixture.Control.GetUidByClientIdAsync(ws.ClientId, ct));
        Assert.Equal(new Dictionary<string, string> { ["path"] = "/probe/path", ["token"] = "a b" }, await fixture.Control.GetSessionAsync(ws.ClientId, ct));
    }

    [Fact]
    public async Task OnMessage_GetsTextAndBinary_SendToCurrentClientAnswersInKind()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await ConnectAsync(ct);
        byte[] bytes = [0, 1, 2, 0x80, 0xFF];

        await ws.SendTextAsync("hello ✓", ct);
        await AssertTextAsync(ws, "hello ✓", ct);
        await ws.SendBinaryAsync(bytes, ct);
        await AssertBinaryAsync(ws, bytes, ct);

        var text = await Log.WaitAsync("message", ws.ClientId, ct, c => c.Text is not null);
        var binary = await Log.WaitAsync("message", ws.ClientId, ct, c => c.Binary is not null);
        Assert.Equal("hello ✓", text.Text);
        Assert.Null(text.Binary);
        Assert.Equal(bytes, binary.Binary);
        Assert.Null(binary.Text);
    }

    [Fact]
    public async Task OnClose_GetsTheClientsCodeAndReason_AndTheSessionIsStillReadable()
    {
        var ct = TestTimeouts.Token();
        var ws = await ConnectAsync(ct, "/closing");
        await using (ws)
        {
            await ws.Socket.CloseAsync((WebSocketCloseStatus)4001, "client-bye", ct);
        }

        var close = await Log.WaitAsync("close", ws.ClientId, ct);
        Assert.Equal(4001, close.Code);
        Assert.Equal("client-bye", close.Reason);
        Assert.Equal("/closing", close.Session["path"]);
        Assert.Equal("close", Log.For(ws.ClientId)[^1].Kind);
    }

    [Fact]
    public async Task SessionChangedInACallback_IsReadByGetSession_AndArrivesInLaterCallbacks()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await ConnectAsync(ct, "/session");

        await ws.SendTextAsync("set:k=v", ct);
        await AssertTextAsync(ws, "set", ct);
        await ws.DrainUntilEchoAsync(ct); // the SetSession command of "set:k=v" is applied before the echo is sent

        Assert.Equal(new Dictionary<string, string> { ["path"] = "/session", ["k"] = "v" }, await fixture.Control.GetSessionAsync(ws.ClientId, ct));

        // A change made through the control API reaches the worker with the next event.
        await fixture.Control.UpdateSessionAsync(ws.ClientId, new Dictionary<string, string> { ["from-api"] = "yes" }, ct);
        await ws.SendTextAsync("session", ct);
        var seen = JsonSerializer.Deserialize<Dictionary<string, string>>(await ws.ReceiveTextAsync(ct))!;
        Assert.Equal(new Dictionary<string, string> { ["path"] = "/session", ["k"] = "v", ["from-api"] = "yes" }, seen);

        var lastMessage = Log.For(ws.ClientId).Last(c => c.Kind == "message");
        Assert.Equal("session", lastMessage.Text);
        Assert.Equal("v", lastMessage.Session["k"]);
        Assert.Equal("yes", lastMessage.Session["from-api"]);

        await ws.CloseAsync(ct);
        var close = await Log.WaitAsync("close", ws.ClientId, ct);
        Assert.Equal("v", close.Session["k"]);
        Assert.Equal(1000, close.Code);
        Assert.Equal("bye", close.Reason);
    }

    [Fact]
    public async Task CloseCurrentClient_SendsTheLastMessageThenTheCodeAndReason_OnCloseSeesThem()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await ConnectAsync(ct);

        await ws.SendTextAsync("kick", ct);

        await AssertTextAsync(ws, "kicked-last", ct);
        var (status, reason) = await ws.Closed.WaitAsync(ct);
        Assert.Equal((WebSocketCloseStatus)4002, status);
        Assert.Equal("kicked", reason);
        var close = await Log.WaitAsync("close", ws.ClientId, ct);
        Assert.Equal(4002, close.Code);
        Assert.Equal("kicked", close.Reason);
        Assert.False(await fixture.Control.IsOnlineAsync(ws.ClientId, ct));
    }

    [Fact]
    public async Task CurrentClientShortcuts_JoinGroupAndBindUid_AreVisibleToTheControlApiAndLaterCallbacks()
    {
        var ct = TestTimeouts.Token();
        var (room, user) = (Unique("room"), Unique("user"));
        await using var ws = await ConnectAsync(ct, $"/?room={room}", o => o.SetRequestHeader("X-Probe-User", user));
        await ws.DrainUntilEchoAsync(ct);

        Assert.Equal(1, await fixture.Control.GetClientCountByGroupAsync(room, ct));
        Assert.True(await fixture.Control.IsUidOnlineAsync(user, ct));
        Assert.Equal(1, await fixture.Control.SendToGroupAsync(room, "to-room", ct));
        Assert.Equal(1, await fixture.Control.SendToUidAsync(user, "to-user", ct));
        await AssertTextAsync(ws, "to-room", ct);
        await AssertTextAsync(ws, "to-user", ct);

        // The uid bound in OnWebSocketConnect comes with later events.
        var echoed = Log.For(ws.ClientId).Last(c => c.Kind == "message");
        Assert.Equal(user, echoed.Uid);
    }

    [Fact]
    public async Task ControlApiFromInsideACallback_Works()
    {
        var ct = TestTimeouts.Token();
        var (room, user) = (Unique("room"), Unique("user"));
        await using var ws = await ConnectAsync(ct, $"/?room={room}", o => o.SetRequestHeader("X-Probe-User", user));
        await ws.DrainUntilEchoAsync(ct);

        await ws.SendTextAsync("gateway", ct);

        var m = await ws.ReceiveAsync(ct);
        Assert.Equal(WebSocketMessageType.Binary, m.Type);
        Assert.StartsWith($"online=True;uid={user};groups=", m.Text, StringComparison.Ordinal);
        Assert.Contains(room, m.Text.Split("groups=")[1].Split(','));
    }
    [Fact]
    public async Task CurrentClientShortcuts_LeaveGroupAndUnbindUid_UndoTheMembership()
    {
        var ct = TestTimeouts.Token();
        var (room, user) = (Unique("room"), Unique("user"));
        await using var ws = await ConnectAsync(ct, $"/?room={room}", o => o.SetRequestHeader("X-Probe-User", user));

        await ws.SendTextAsync("leave:" + room, ct);
        await AssertTextAsync(ws, "left", ct);
        await ws.SendTextAsync("unbind", ct);
        await AssertTextAsync(ws, "unbound", ct);
        await ws.DrainUntilEchoAsync(ct);

        Assert.Equal(0, await fixture.Control.GetClientCountByGroupAsync(room, ct));
        Assert.False(await fixture.Control.IsUidOnlineAsync(user, ct));
        Assert.Null(await fixture.Control.GetUidByClientIdAsync(ws.ClientId, ct));
        Assert.Null(Log.For(ws.ClientId).Last(c => c.Kind == "message").Uid); // the echo's event: no uid any more
    }

    [Fact]
    public async Task OnClose_AfterCloseClientOrDestroyClientFromTheControlApi()
    {
        var ct = TestTimeouts.Token();
        await using var closed = await ConnectAsync(ct);
        await using var destroyed = await ConnectAsync(ct);

        await fixture.Control.CloseClientAsync(closed.ClientId, "server-bye", ct);
        await fixture.Control.DestroyClientAsync(destroyed.ClientId, ct);

        await AssertTextAsync(closed, "server-bye", ct);
        var c1 = await Log.WaitAsync("close", closed.ClientId, ct);
        Assert.Equal(1000, c1.Code);
        Assert.Equal("closed by server", c1.Reason);
        var c2 = await Log.WaitAsync("close", destroyed.ClientId, ct);
        Assert.Equal(1006, c2.Code); // cut without a close handshake
    }
}
