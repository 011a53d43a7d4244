using System.Collections.Concurrent;
using System.Net.Sockets;
using CsCheck;
using Google.Protobuf;
using Grpc.Core;
using Push.Control;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>One `push start` for the fuzz tests.</summary>
public sealed class FuzzFixture : IAsyncLifetime
{
    public PushProcess Push { get; private set; } = null!;
    public PushControlClient Control { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        Push = await PushProcess.StartAsync("start", cancellationToken: ct);
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
}

/// <summary>
/// Random input against a live gateway: byte sequences on WebSocket connections (before and after the handshake)
/// and random control API requests. The gateway never crashes, never answers 1011 or UNKNOWN/INTERNAL, and serves a
/// good client afterwards.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FuzzTests(FuzzFixture fixture, ITestOutputHelper output) : IClassFixture<FuzzFixture>
{
    private const int FrameInputs = 2000;
    private const int HandshakeInputs = 500;
    private const int ControlRequests = 1000;

    /// <summary>Bytes sent after a completed handshake: noise, mutated valid frames, or frames with random header fields.</summary>
    private static readonly Gen<byte[]> FrameBytes = Gen.Frequency(
        (2, Gen.Byte.Array[1, 300]),
        (3, Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 0, 200], Gen.Int[0, 1000].Array[0, 4], Gen.Byte.Array[4, 4]).Select(t =>
        {
            var bytes = WsFrames.TextFrame(t.Item1);
            for (var i = 0; i < t.Item2.Length; i++)
            {
                bytes[t.Item2[i] % bytes.Length] ^= t.Item3[i];
            }
            return bytes;
        })),
        (3, Gen.Select(Gen.Int[0, 15], Gen.Bool, Gen.Bool, Gen.Int[0, 7], Gen.Byte.Array[0, 200], Gen.Int[0, 3]).Select(t =>
        {
            var (opcode, fin, mask, rsv, payload, form) = t;
            return form == 3
                ? [.. WsFrames.Build((byte)opcode, payload, fin: false, mask), .. WsFrames.Build(0, payload, fin, mask, (byte)rsv)]
                : WsFrames.Build((byte)opcode, payload, fin, mask, (byte)(rsv & (rsv % 3 == 0 ? 7 : 0)), lengthForm: form == 0 ? -1 : form == 1 ? 126 : 127);
        })));

    /// <summary>Bytes sent instead of a handshake: random, or a real upgrade request with corrupted bytes.</summary>
    private static readonly Gen<byte[]> HandshakeBytes = Gen.Frequency(
        (1, Gen.Byte.Array[1, 400]),
        (2, Gen.Select(Gen.Int[0, 200].Array[1, 6], Gen.Byte.Array[6, 6]).Select(t =>
        {
            var bytes = System.Text.Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
            for (var i = 0; i < t.Item1.Length; i++)
            {
                bytes[t.Item1[i] % bytes.Length] = t.Item2[i];
            }
            return bytes;
        })));

    [Fact]
    public async Task RandomBytes_OnTheWebSocketPort_NeverCrashTheGateway()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(90));
        var outcomes = new ConcurrentDictionary<string, int>();
        var frames = 0;
        await Check.SampleAsync(FrameBytes, async bytes =>
        {
            Interlocked.Increment(ref frames);
            using var raw = await RawWebSocket.ConnectAsync(fixture.Push.Ws, ct: ct);
            await raw.SendAsync(bytes, ct);
            raw.Socket.Shutdown(SocketShutdown.Send); // FIN: an incomplete frame ends the connection too
            var end = await raw.ReadUntilCloseAsync(ct);
            outcomes.AddOrUpdate(end.CloseCode?.ToString() ?? "eof", 1, (_, n) => n + 1);
            Assert.NotEqual(1011, end.CloseCode);
        }, iter: FrameInputs, threads: 4, print: b => Convert.ToHexString(b));

        var handshakes = 0;
        await Check.SampleAsync(HandshakeBytes, async bytes =>
        {
            Interlocked.Increment(ref handshakes);
            using var raw = await RawWebSocket.OpenAsync(fixture.Push.Ws, ct: ct);
            await raw.SendAsync(bytes, ct);
            raw.Socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[4096];
            var first = await raw.Socket.ReceiveAsync(buffer, SocketFlags.None, ct);
            var status = first >= 12 ? System.Text.Encoding.ASCII.GetString(buffer, 9, 3) : "eof";
            outcomes.AddOrUpdate("http " + status, 1, (_, n) => n + 1);
            Assert.NotEqual("500", status);
        }, iter: HandshakeInputs, threads: 4, print: b => Convert.ToHexString(b));

        await Probe.UntilAsync(async () => await fixture.Control.GetAllClientCountAsync(ct) == 0, TimeSpan.FromSeconds(15), "every fuzz connection is gone", ct);
        Assert.False(fixture.Push.HasExited, fixture.Push.Output);
        await using var good = await TestWebSocket.ConnectAsync(fixture.Push.Ws, cancellationToken: ct);
        await good.DrainUntilEchoAsync(ct);
        output.WriteLine($"fuzz: {frames} frame inputs and {handshakes} handshake inputs on separate connections; outcomes: {string.Join(", ", outcomes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}"))}; gateway alive, good client served");
    }

    private enum Rpc
    {
        SendToClient, SendToUid, SendToGroup, SendBatch, JoinGroup, LeaveGroup, BindUid, UnbindUid, IsOnline, IsUidOnline,
        GetClientIdByUid, GetClientCountByGroup, GetClientIdListByGroup, GetUidListByGroup, SetSession, GetSession, Ungroup, IsUidsOnline,
    }

    [Fact]
    public async Task RandomControlRequests_GetOnlyDefinedErrors()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(90));
        var clients = new List<TestWebSocket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                clients.Add(await TestWebSocket.ConnectAsync(fixture.Push.Ws, cancellationToken: ct));
            }
            var ids = clients.Select(c => c.ClientId).ToArray();
            var gatewayId = ids[0][..16];

            // Names: empty, short, long (above MaxNameLength 256), any characters but lone surrogates.
            var name = Gen.Frequency(
                (1, Gen.Const(string.Empty)),
                (6, Gen.String[Gen.Char.AlphaNumeric, 1, 20]),
                (2, Gen.String[Gen.Char[' ', '\uD7FF'], 0, 300]),
                (1, Gen.String[Gen.Char.AlphaNumeric, 250, 2000]));
            // Client ids: a real one, a well-formed one of this or an unknown gateway, or garbage.
            var clientId = Gen.Frequency(
                (3, Gen.Int[0, ids.Length - 1].Select(i => ids[i])),
                (2, Gen.Long[0, long.MaxValue].Select(n => gatewayId + n.ToString("x16", System.Globalization.CultureInfo.InvariantCulture) + "0000002a")),
                (1, Gen.Long.Select(n => n.ToString("x16", System.Globalization.CultureInfo.InvariantCulture) + "00000000000000010000002a")),
                (2, name));
            var payload = Gen.Frequency(
                (1, Gen.Const(0)),
                (8, Gen.Int[1, 200]),
                (1, Gen.Int[1024 * 1024 - 10, 1024 * 1024 + 10]));
            var request = Gen.Select(Gen.Enum<Rpc>(), clientId, name, name, payload);

            var codes = new ConcurrentDictionary<string, int>();
            var sent = 0;
            await Check.SampleAsync(request, async t =>
            {
                var (rpc, id, a, b, size) = t;
                Interlocked.Increment(ref sent);
                var code = await CallAsync(fixture.Control.Raw, rpc, id, a, b, size, ct);
                codes.AddOrUpdate(code.ToString(), 1, (_, n) => n + 1);
                var allowed = code is StatusCode.OK or StatusCode.InvalidArgument or StatusCode.NotFound or StatusCode.ResourceExhausted
                    || (code == StatusCode.FailedPrecondition && rpc == Rpc.UnbindUid); // unbinding a uid the client is not bound to
                Assert.True(allowed, $"{rpc}({id}, {a.Length} chars, {b.Length} chars, {size} bytes) answered {code}");
            }, iter: ControlRequests, threads: 4, print: t => $"{t.Item1}({t.Item2}, '{t.Item3}', '{t.Item4}', {t.Item5})");

            Assert.False(fixture.Push.HasExited, fixture.Push.Output);
            await using var good = await TestWebSocket.ConnectAsync(fixture.Push.Ws, cancellationToken: ct);
            await good.DrainUntilEchoAsync(ct);
            output.WriteLine($"fuzz: {sent} control requests over {Enum.GetValues<Rpc>().Length} RPCs; answers: {string.Join(", ", codes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}"))}; gateway alive, good client served");
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }

    private static async Task<StatusCode> CallAsync(GatewayService.GatewayServiceClient c, Rpc rpc, string id, string a, string b, int size, CancellationToken ct)
    {
        var text = new string('p', size);
        var o = new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: ct);
        try
        {
            _ = rpc switch
            {
                Rpc.SendToClient => (object)await c.SendToClientAsync(new SendToClientRequest { ClientId = id, Text = text }, o),
                Rpc.SendToUid => await c.SendToUidAsync(new SendToUidRequest { Uids = { a, b }, Binary = ByteString.CopyFrom(new byte[size]) }, o),
                Rpc.SendToGroup => await c.SendToGroupAsync(new SendToGroupRequest { Groups = { a }, ExcludeClientIds = { id }, Text = text }, o),
                Rpc.SendBatch => await c.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { Groups = { a }, Text = text }, new BatchItem { ClientId = id, Text = b.Length > 0 ? b : "x" } } }, o),
                Rpc.JoinGroup => await c.JoinGroupAsync(new JoinGroupRequest { ClientId = id, Group = a }, o),
                Rpc.LeaveGroup => await c.LeaveGroupAsync(new LeaveGroupRequest { ClientId = id, Group = a }, o),
                Rpc.BindUid => await c.BindUidAsync(new BindUidRequest { ClientId = id, Uid = a }, o),
                Rpc.UnbindUid => await c.UnbindUidAsync(new UnbindUidRequest { ClientId = id, Uid = a }, o),
                Rpc.IsOnline => await c.IsOnlineAsync(new IsOnlineRequest { ClientId = id }, o),
                Rpc.IsUidOnline => await c.IsUidOnlineAsync(new IsUidOnlineRequest { Uid = a }, o),
                Rpc.GetClientIdByUid => await c.GetClientIdByUidAsync(new GetClientIdByUidRequest { Uid = a }, o),
                Rpc.GetClientCountByGroup => await c.GetClientCountByGroupAsync(new GetClientCountByGroupRequest { Group = a }, o),
                Rpc.GetClientIdListByGroup => await c.GetClientIdListByGroupAsync(new GetClientIdListByGroupRequest { Group = a }, o),
                Rpc.GetUidListByGroup => await c.GetUidListByGroupAsync(new GetUidListByGroupRequest { Group = a }, o),
                Rpc.SetSession => await c.SetSessionAsync(new SetSessionRequest { ClientId = id, Session = { [a] = b } }, o),
                Rpc.GetSession => await c.GetSessionAsync(new GetSessionRequest { ClientId = id }, o),
                Rpc.Ungroup => await c.UngroupAsync(new UngroupRequest { Group = a }, o),
                Rpc.IsUidsOnline => await c.IsUidsOnlineAsync(new IsUidsOnlineRequest { Uids = { a, b } }, o),
                _ => throw new ArgumentOutOfRangeException(nameof(rpc)),
            };
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }
}
