using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Grpc.Core;
using Push.Control;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>One `push start` with small limits, shared by the tests of limits that do not disturb each other.</summary>
public sealed class LimitsFixture : SuiteFixture
{
    public const int MaxMessageSize = 1024;
    public const int MaxPushSize = 256;
    public const int MaxSessionSize = 128;
    public const int MaxGroups = 2;
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(1);

    protected override IEnumerable<string> Arguments =>
    [
        "--set", $"Gateway:MaxMessageSize={MaxMessageSize}",
        "--set", $"Gateway:MaxPushSize={MaxPushSize}",
        "--set", $"Gateway:MaxSessionSize={MaxSessionSize}",
        "--set", $"Gateway:MaxGroupsPerConnection={MaxGroups}",
        "--set", $"Gateway:HandshakeTimeout={HandshakeTimeout:c}",
    ];
}

[Trait("Category", "Integration")]
public sealed class LimitTests(LimitsFixture fixture, ITestOutputHelper output) : IClassFixture<LimitsFixture>
{
    [Fact]
    public async Task MaxMessageSize_AtLimitEchoed_AboveLimitClosed1009()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var atLimit = new string('a', LimitsFixture.MaxMessageSize);
        await ws.SendTextAsync(atLimit, ct);
        Assert.Equal(atLimit, await ws.ReceiveTextAsync(ct));

        await ws.SendTextAsync(new string('b', LimitsFixture.MaxMessageSize + 1), ct);
        var (status, reason) = await ws.Closed.WaitAsync(ct);

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
        output.WriteLine($"{LimitsFixture.MaxMessageSize + 1}-byte message: close {(int)status!} '{reason}'");
    }

    [Fact]
    public async Task MaxMessageSize_FragmentedAboveLimit_Closed1009()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var half = Encoding.UTF8.GetBytes(new string('c', LimitsFixture.MaxMessageSize / 2 + 1));
        await ws.Socket.SendAsync(half, WebSocketMessageType.Text, endOfMessage: false, ct);
        await ws.Socket.SendAsync(half, WebSocketMessageType.Text, endOfMessage: true, ct);

        var (status, _) = await ws.Closed.WaitAsync(ct);

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
    }

    [Fact]
    public async Task MaxPushSize_LargerPush_InvalidArgumentAndNothingSent()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);

        Assert.Equal(1, await fixture.Control.SendToClientAsync(ws.ClientId, new string('x', LimitsFixture.MaxPushSize), ct));
        var ex = await Assert.ThrowsAsync<RpcException>(() => fixture.Control.SendToClientAsync(ws.ClientId, new string('y', LimitsFixture.MaxPushSize + 1), ct));
        var all = await Assert.ThrowsAsync<RpcException>(() => fixture.Control.SendToAllAsync(new byte[LimitsFixture.MaxPushSize + 1], cancellationToken: ct));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, all.StatusCode);
        Assert.Contains("MaxPushSize", ex.Status.Detail, StringComparison.Ordinal);
        var received = await ws.DrainUntilEchoAsync(ct);
        Assert.Equal([new string('x', LimitsFixture.MaxPushSize)], received.Select(m => m.Text));
    }

    [Fact]
    public async Task MaxSessionSize_LargerSession_ResourceExhaustedAndSessionKept()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await fixture.Control.SetSessionAsync(ws.ClientId, new Dictionary<string, string> { ["k"] = "small" }, ct);

        var set = await Assert.ThrowsAsync<RpcException>(() => fixture.Control.SetSessionAsync(ws.ClientId, new Dictionary<string, string> { ["k"] = new string('v', LimitsFixture.MaxSessionSize) }, ct));
        var update = await Assert.ThrowsAsync<RpcException>(() => fixture.Control.UpdateSessionAsync(ws.ClientId, new Dictionary<string, string> { ["other"] = new string('w', LimitsFixture.MaxSessionSize - 5) }, ct));

        Assert.Equal(StatusCode.ResourceExhausted, set.StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, update.StatusCode);
        var session = await fixture.Control.GetSessionAsync(ws.ClientId, ct);
        Assert.Equal("small", Assert.Single(session).Value);
    }

    [Fact]
    public async Task MaxGroupsPerConnection_OneMore_ResourceExhausted()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        for (var i = 0; i < LimitsFixture.MaxGroups; i++)
        {
            await fixture.Control.JoinGroupAsync(ws.ClientId, $"limit-g{i}", ct);
        }

        var ex = await Assert.ThrowsAsync<RpcException>(() => fixture.Control.JoinGroupAsync(ws.ClientId, "limit-one-too-many", ct));
        // Joining through the worker (the demo's {"type":"join"}) is refused the same way: the group stays empty.
        await ws.SendTextAsync("{\"type\":\"join\",\"group\":\"limit-via-worker\"}", ct);
        Assert.Contains("limit-via-worker", await ws.ReceiveTextAsync(ct), StringComparison.Ordinal);

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("MaxGroupsPerConnection", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, await fixture.Control.GetClientCountByGroupAsync("limit-one-too-many", ct));
        Assert.Equal(0, await fixture.Control.GetClientCountByGroupAsync("limit-via-worker", ct));
        Assert.Equal(1, await fixture.Control.GetClientCountByGroupAsync("limit-g0", ct));
    }

    [Fact]
    public async Task MaxNameLength_LongerGroupOrUid_InvalidArgument()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);

        var group = await Assert.ThrowsAsync<RpcException>(() => fixture.Control.JoinGroupAsync(ws.ClientId, new string('g', 257), ct));
        var uid = await Assert.ThrowsAsync<RpcException>(() => fixture.Control.BindUidAsync(ws.ClientId, new string('u', 257), ct));
        await fixture.Control.JoinGroupAsync(ws.ClientId, new string('g', 256), ct);

        Assert.Equal(StatusCode.InvalidArgument, group.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, uid.StatusCode);
        Assert.Equal(1, await fixture.Control.GetClientCountByGroupAsync(new string('g', 256), ct));
    }

    [Fact]
    public async Task MaxHandshakeSize_HugeHeaders_Answered431()
    {
        var ct = TestTimeouts.Token();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, fixture.Suite.Ws.Port), ct);
        var head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Filler: " + new string('f', 20 * 1024) + "\r\n\r\n";
        try
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(head), ct);
        }
        catch (SocketException)
        {
            // the gateway may answer and close before it has read everything
        }

        var answer = await ReadAllAsync(socket, ct);

        Assert.StartsWith("HTTP/1.1 431 ", answer, StringComparison.Ordinal);
    }

    private static async Task<string> ReadAllAsync(Socket socket, CancellationToken ct)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, ct)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException) when (received.Length > 0)
        {
            // a reset after the answer (unread request bytes) still leaves the answer readable
        }
        return Encoding.ASCII.GetString(received.ToArray());
    }

    [Fact]
    public async Task HandshakeTimeout_HalfARequest_Answered408AndClosed()
    {
        var ct = TestTimeouts.Token();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, fixture.Suite.Ws.Port), ct);
        var started = Stopwatch.StartNew();
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"), ct);

        var received = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, ct)) > 0)
        {
            received.Write(buffer, 0, n);
        }
        var elapsed = started.Elapsed;

        var answer = Encoding.ASCII.GetString(received.ToArray());
        Assert.StartsWith("HTTP/1.1 408 ", answer, StringComparison.Ordinal);
        // Not before the timeout: a lower bound holds on any machine; the test's own deadline bounds it above.
        Assert.True(elapsed >= LimitsFixture.HandshakeTimeout - TimeSpan.FromMilliseconds(100), $"answered after {elapsed.TotalMilliseconds:F0} ms, before Gateway:HandshakeTimeout {LimitsFixture.HandshakeTimeout}");
        output.WriteLine($"half a request: '{answer.Split("\r\n")[0]}' and closed after {elapsed.TotalMilliseconds:F0} ms (HandshakeTimeout {LimitsFixture.HandshakeTimeout.TotalMilliseconds} ms)");
    }

    [Fact]
    public async Task Handshake_200Sequential_AllAcceptedAndCounted_NoneLeftAfterAbort()
    {
        var ct = TestTimeouts.Token();
        await AuthHelpers.SequentialHandshakesAsync(fixture.Control, _ => fixture.Suite.Ws, 20, ct); // warm-up

        var times = await AuthHelpers.SequentialHandshakesAsync(fixture.Control, _ => fixture.Suite.Ws, 200, ct);

        output.WriteLine($"handshake without authentication (loopback, sequential, 200; information only): {AuthHelpers.Percentiles(times)}");
    }

    [Fact]
    public async Task HandshakeTimeout_SilentConnection_ClosedWithinTimeout()
    {
        var ct = TestTimeouts.Token();
        var timeoutsBefore = await Probe.MetricAsync(fixture.Suite, "push_gateway_handshakes_rejected_total", "\"timeout\"", ct);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, fixture.Suite.Ws.Port), ct);
        var started = Stopwatch.StartNew();

        var buffer = new byte[4096];
        var total = new StringBuilder();
        int n;
        while ((n = await socket.ReceiveAsync(buffer, ct)) > 0)
        {
            total.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        var elapsed = started.Elapsed;

        Assert.StartsWith("HTTP/1.1 408 ", total.ToString(), StringComparison.Ordinal);
        // Closed by the gateway's timeout (counted with its reason), not before it; the test's deadline bounds it above.
        Assert.True(elapsed >= LimitsFixture.HandshakeTimeout - TimeSpan.FromMilliseconds(100), $"closed after {elapsed.TotalMilliseconds:F0} ms, before Gateway:HandshakeTimeout {LimitsFixture.HandshakeTimeout}");
        await Probe.UntilAsync(async () => await Probe.MetricAsync(fixture.Suite, "push_gateway_handshakes_rejected_total", "\"timeout\"", ct) > timeoutsBefore, TimeSpan.FromSeconds(10), "the handshake timeout is counted (push_gateway_handshakes_rejected_total{push_reason=\"timeout\"})", ct);
        output.WriteLine($"silent connection: 408 and closed after {elapsed.TotalMilliseconds:F0} ms (HandshakeTimeout {LimitsFixture.HandshakeTimeout.TotalMilliseconds} ms)");
    }
}

[Trait("Category", "Integration")]
public sealed class LimitConnectionAndRateTests(ITestOutputHelper output)
{
    [Fact]
    public async Task MaxConnections_OneMore_Http503_AndFreedSlotReusable()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var suite = await AuthHelpers.StartSuiteAsync(["--set", "Gateway:MaxConnections=2"], ct);
        await using var a = await TestWebSocket.ConnectAsync(suite.Ws, cancellationToken: ct);
        var b = await TestWebSocket.ConnectAsync(suite.Ws, cancellationToken: ct);

        var third = await AuthHelpers.HandshakeStatusAsync(suite.Ws, null, ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, third);

        // A closed connection frees its slot (poll: the gateway removes it when the close completes).
        await b.DisposeAsync();
        var status = HttpStatusCode.ServiceUnavailable;
        for (var i = 0; i < 100 && status == HttpStatusCode.ServiceUnavailable; i++)
        {
            status = await AuthHelpers.HandshakeStatusAsync(suite.Ws, null, ct);
            if (status == HttpStatusCode.ServiceUnavailable)
            {
                await Task.Delay(50, ct);
            }
        }
        Assert.Equal(HttpStatusCode.SwitchingProtocols, status);
        output.WriteLine($"MaxConnections=2: third handshake {(int)third}, after one closed {(int)status}");
    }

    [Fact]
    public async Task MaxMessagesPerSecond_ClosePolicy_Closes1008()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var suite = await AuthHelpers.StartSuiteAsync(["--set", "Gateway:MaxMessagesPerSecond=5", "--set", "Gateway:RateLimitPolicy=Close"], ct);
        await using var ws = await TestWebSocket.ConnectAsync(suite.Ws, cancellationToken: ct);
        var sent = 0;
        try
        {
            for (; sent < 50 && !ws.Closed.IsCompleted; sent++)
            {
                await ws.SendTextAsync($"m{sent}", ct);
            }
        }
        catch (WebSocketException)
        {
        }

        var (status, reason) = await ws.Closed.WaitAsync(ct);

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        output.WriteLine($"rate 5/s (burst 10): closed {(int)status!} '{reason}' after {sent} sends");
    }

    [Fact]
    public async Task MaxMessagesPerSecond_DropPolicy_DropsExcessAndKeepsConnection()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var suite = await AuthHelpers.StartSuiteAsync(["--set", "Gateway:MaxMessagesPerSecond=5", "--set", "Gateway:RateLimitPolicy=Drop"], ct);
        await using var ws = await TestWebSocket.ConnectAsync(suite.Ws, cancellationToken: ct);
        const int burst = 40;
        for (var i = 0; i < burst; i++)
        {
            await ws.SendTextAsync($"burst-{i}", ct);
        }

        // Once tokens refill, a marker gets through; the worker handles a client's events in order, so every admitted
        // burst message has been echoed before the marker.
        var echoed = new List<string>();
        string? marker = null;
        for (var attempt = 0; attempt < 50 && marker is null; attempt++)
        {
            var m = $"marker-{attempt}";
            await ws.SendTextAsync(m, ct);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(TimeSpan.FromMilliseconds(400));
            try
            {
                while (true)
                {
                    var text = await ws.ReceiveTextAsync(wait.Token);
                    if (text.StartsWith("marker-", StringComparison.Ordinal))
                    {
                        marker = text;
                        break;
                    }
                    echoed.Add(text);
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
            }
        }

        Assert.NotNull(marker);
        Assert.Equal(WebSocketState.Open, ws.Socket.State);
        Assert.NotEmpty(echoed);
        Assert.True(echoed.Count < burst, $"all {burst} messages were echoed: nothing was dropped");
        Assert.Equal(echoed.OrderBy(t => int.Parse(t["burst-".Length..], System.Globalization.CultureInfo.InvariantCulture)), echoed);
        output.WriteLine($"rate 5/s (burst 10), policy Drop: {echoed.Count} of {burst} burst messages admitted, connection open, {marker} echoed");
    }
}
