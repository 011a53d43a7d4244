using System.Diagnostics;
using System.Text;
using Push.Control;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>One `push start` with a 1 s heartbeat (limit 2), shared by the bad-input tests.</summary>
public sealed class BadInputFixture : IAsyncLifetime
{
    public PushProcess Push { get; private set; } = null!;
    public PushControlClient Control { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        Push = await PushProcess.StartAsync("start", ["--set", "Gateway:PingInterval=00:00:01", "--set", "Gateway:PingNotResponseLimit=2"], cancellationToken: ct);
        Control = Push.Control();
        await Probe.UntilWorkersAsync(Control, 1, ct);
    }

    public async Task DisposeAsync()
    {
        Control?.Dispose();
        if (Push is not null)
        {
            await Push.DisposeAsync();
        }
    }

    /// <summary>A well-behaved client still gets its echo.</summary>
    public async Task AssertGoodClientWorksAsync(CancellationToken ct)
    {
        await using var good = await TestWebSocket.ConnectAsync(Push.Ws, cancellationToken: ct);
        await good.DrainUntilEchoAsync(ct);
    }
}

/// <summary>
/// Malformed frames, invalid UTF-8, oversize messages, silent clients and connect floods: each is refused with the
/// RFC 6455 close code, the gateway never crashes, and a good client works right after.
/// </summary>
[Trait("Category", "Integration")]
public sealed class BadInputTests(BadInputFixture fixture, ITestOutputHelper output) : IClassFixture<BadInputFixture>
{
    private static readonly byte[] Hi = "hi"u8.ToArray();

    public static TheoryData<string, int> Cases => new()
    {
        { "invalid UTF-8 in a text frame", 1007 },
        { "invalid UTF-8 across text fragments", 1007 },
        { "invalid UTF-8 in a close reason", 1007 },
        { "reserved bit RSV1 set", 1002 },
        { "reserved bits RSV2+RSV3 set", 1002 },
        { "unmasked client frame", 1002 },
        { "64-bit length with the high bit set", 1002 },
        { "fragmented ping", 1002 },
        { "fragmented close", 1002 },
        { "ping of 126 bytes", 1002 },
        { "continuation without a start", 1002 },
        { "new text frame inside a fragmented message", 1002 },
        { "opcode 0x3", 1002 },
        { "opcode 0x7", 1002 },
        { "opcode 0xB", 1002 },
        { "opcode 0xF", 1002 },
        { "close code 1005", 1002 },
        { "close code 999", 1002 },
        { "close frame of 1 byte", 1002 },
        { "message above MaxMessageSize", 1009 },
        { "fragments adding up above MaxMessageSize", 1009 },
    };

    private static byte[] Frames(string name) => name switch
    {
        "invalid UTF-8 in a text frame" => WsFrames.Build(WsFrames.Text, [0x68, 0xC3, 0x28, 0x69]),
        "invalid UTF-8 across text fragments" => [.. WsFrames.Build(WsFrames.Text, [0xE2, 0x82], fin: false), .. WsFrames.Build(WsFrames.Continuation, [0xFF])],
        "invalid UTF-8 in a close reason" => WsFrames.Build(WsFrames.Close, [0x03, 0xE8, 0xC0, 0xAF]),
        "reserved bit RSV1 set" => WsFrames.Build(WsFrames.Text, Hi, rsv: 4),
        "reserved bits RSV2+RSV3 set" => WsFrames.Build(WsFrames.Binary, Hi, rsv: 3),
        "unmasked client frame" => WsFrames.Build(WsFrames.Text, Hi, mask: false),
        "64-bit length with the high bit set" => WsFrames.Build(WsFrames.Binary, [], declaredLength: 0x8000_0000_0000_0000, lengthForm: 127),
        "fragmented ping" => WsFrames.Build(WsFrames.Ping, Hi, fin: false),
        "fragmented close" => WsFrames.Build(WsFrames.Close, [0x03, 0xE8], fin: false),
        "ping of 126 bytes" => WsFrames.Build(WsFrames.Ping, new byte[126]),
        "continuation without a start" => WsFrames.Build(WsFrames.Continuation, Hi),
        "new text frame inside a fragmented message" => [.. WsFrames.Build(WsFrames.Text, Hi, fin: false), .. WsFrames.Build(WsFrames.Text, Hi)],
        "opcode 0x3" => WsFrames.Build(0x3, Hi),
        "opcode 0x7" => WsFrames.Build(0x7, Hi),
        "opcode 0xB" => WsFrames.Build(0xB, Hi),
        "opcode 0xF" => WsFrames.Build(0xF, Hi),
        "close code 1005" => WsFrames.CloseFrame(1005),
        "close code 999" => WsFrames.CloseFrame(999),
        "close frame of 1 byte" => WsFrames.Build(WsFrames.Close, [0x03]),
        // Only the header: the gateway must refuse on the declared length, before any payload arrives.
        "message above MaxMessageSize" => WsFrames.Build(WsFrames.Binary, [], declaredLength: 64 * 1024 + 1),
        "fragments adding up above MaxMessageSize" => [.. WsFrames.Build(WsFrames.Text, new byte[40_000], fin: false), .. WsFrames.Build(WsFrames.Continuation, new byte[40_000])],
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadFrame_IsClosedWithTheRightCode_AndTheGatewayKeepsServing(string name, int expected)
    {
        var ct = TestTimeouts.Token();
        using (var raw = await RawWebSocket.ConnectAsync(fixture.Push.Ws, ct: ct))
        {
            await raw.SendAsync(Frames(name), ct);
            var end = await raw.ReadUntilCloseAsync(ct);
            output.WriteLine($"{name}: {end}");
            Assert.Equal(expected, end.CloseCode);
        }
        await fixture.AssertGoodClientWorksAsync(ct);
    }

    [Fact]
    public async Task SilentClient_IsClosedByTheHeartbeat()
    {
        var ct = TestTimeouts.Token();
        using var raw = await RawWebSocket.ConnectAsync(fixture.Push.Ws, ct: ct);
        var greeting = await raw.ReadTextUntilAsync(t => t.Contains("clientId", StringComparison.Ordinal), ct);
        var id = Probe.ClientIdPattern().Match(greeting).Groups[1].Value;
        var clock = Stopwatch.StartNew();

        // Never answer a ping, never send: like a peer that vanished without a FIN.
        var pings = 0;
        int? code = null;
        while (code is null)
        {
            var f = await raw.ReadFrameAsync(ct);
            if (f is null)
            {
                break;
            }
            if (f.Opcode == WsFrames.Ping)
            {
                pings++;
            }
            if (f.Opcode == WsFrames.Close)
            {
                code = f.CloseCode;
            }
        }
        var closedAfter = clock.Elapsed;
        await Probe.UntilAsync(async () => !await fixture.Control.IsOnlineAsync(id, ct), TimeSpan.FromSeconds(10), "the silent client is gone", ct);
        output.WriteLine($"silent client: {pings} ping(s) unanswered, close {code?.ToString() ?? "none"} after {closedAfter.TotalSeconds:F1} s, gone from the gateway after {clock.Elapsed.TotalSeconds:F1} s (PingInterval 1 s, PingNotResponseLimit 2)");
        Assert.Equal(4000, code);
        Assert.True(pings >= 1, "the gateway pinged the silent client");
        Assert.True(closedAfter < TimeSpan.FromSeconds(5), $"closed after {closedAfter.TotalSeconds:F1} s");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
        await fixture.AssertGoodClientWorksAsync(ct);
    }

    [Fact]
    public async Task ConnectFlood_LeavesNoConnectionBehind()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(90));
        const int total = 2000;
        var next = -1;
        var kinds = new int[3];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                var kind = i % 4 == 3 ? 2 : i % 2;
                Interlocked.Increment(ref kinds[kind]);
                if (kind == 2)
                {
                    // TCP connect, a partial request, gone.
                    using var half = await RawWebSocket.OpenAsync(fixture.Push.Ws, ct: ct);
                    await half.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n"), ct);
                    half.Reset();
                    continue;
                }
                var raw = await RawWebSocket.ConnectAsync(fixture.Push.Ws, ct: ct);
                if (kind == 0)
                {
                    raw.Reset(); // RST right after the 101
                }
                else
                {
                    await raw.SendAsync(WsFrames.CloseFrame(1000), ct);
                    raw.Dispose();
                }
            }
        }, ct)));
        var connectTime = clock.Elapsed;
        await Probe.UntilAsync(async () => await fixture.Control.GetAllClientCountAsync(ct) == 0, TimeSpan.FromSeconds(30), "every flood connection is gone", ct);
        var drained = clock.Elapsed;
        var live = await new HttpClient().GetAsync(new Uri(fixture.Push.Http!, "/healthz/live"), ct);
        output.WriteLine($"flood: {total} connections ({kinds[0]} handshake+RST, {kinds[1]} handshake+close, {kinds[2]} partial request+RST) in {connectTime.TotalSeconds:F1} s; client count back to 0 after {drained.TotalSeconds:F1} s; /healthz/live {(int)live.StatusCode}; gateway RSS {Probe.RssMiB(fixture.Push.Pid):F0} MiB");
        Assert.True(live.IsSuccessStatusCode);
        Assert.False(fixture.Push.HasExited);
        await fixture.AssertGoodClientWorksAsync(ct);
    }
}
