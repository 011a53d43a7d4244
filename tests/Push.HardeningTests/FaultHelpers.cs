using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Grpc.Core;
using Push.Control;
using Push.Testing;

namespace Push.HardeningTests;

/// <summary>Builds RFC 6455 frames by hand, including malformed ones.</summary>
internal static class WsFrames
{
    public const byte Continuation = 0x0;
    public const byte Text = 0x1;
    public const byte Binary = 0x2;
    public const byte Close = 0x8;
    public const byte Ping = 0x9;
    public const byte Pong = 0xA;

    /// <summary>
    /// One frame. <paramref name="rsv"/> goes into bits 4-6 of byte 0; <paramref name="declaredLength"/> overrides the
    /// length field (the payload bytes are still <paramref name="payload"/>); <paramref name="lengthForm"/> forces the
    /// 7-bit (0), 16-bit (126) or 64-bit (127) length form.
    /// </summary>
    public static byte[] Build(byte opcode, ReadOnlySpan<byte> payload, bool fin = true, bool mask = true, byte rsv = 0, ulong? declaredLength = null, int lengthForm = -1, uint maskKey = 0x1b2c3d4e)
    {
        var length = declaredLength ?? (ulong)payload.Length;
        var form = lengthForm >= 0 ? lengthForm : length < 126 ? 0 : length <= ushort.MaxValue ? 126 : 127;
        var header = 2 + (form == 126 ? 2 : form == 127 ? 8 : 0) + (mask ? 4 : 0);
        var bytes = new byte[header + payload.Length];
        bytes[0] = (byte)((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0x0F));
        bytes[1] = (byte)((mask ? 0x80 : 0) | (form == 0 ? (int)length : form));
        var i = 2;
        if (form == 126)
        {
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), (ushort)length);
            i = 4;
        }
        else if (form == 127)
        {
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(2), length);
            i = 10;
        }
        if (mask)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(i), maskKey);
            for (var j = 0; j < payload.Length; j++)
            {
                bytes[i + 4 + j] = (byte)(payload[j] ^ bytes[i + (j & 3)]);
            }
        }
        else
        {
            payload.CopyTo(bytes.AsSpan(i));
        }
        return bytes;
    }

    public static byte[] TextFrame(string text, bool fin = true) => Build(Text, Encoding.UTF8.GetBytes(text), fin);

    public static byte[] CloseFrame(int code, string reason = "")
    {
        var payload = new byte[2 + Encoding.UTF8.GetByteCount(reason)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        Encoding.UTF8.GetBytes(reason, payload.AsSpan(2));
        return Build(Close, payload);
    }
}

/// <summary>A frame the server sent.</summary>
internal sealed record ServerFrame(bool Fin, byte Opcode, byte[] Payload)
{
    public string Text => Encoding.UTF8.GetString(Payload);
    public int CloseCode => Opcode == WsFrames.Close && Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : 0;
}

/// <summary>How a raw connection ended.</summary>
internal sealed record RawEnd(int? CloseCode, string Reason, bool Aborted, int FramesBefore)
{
    public override string ToString() => CloseCode is { } c ? $"close {c} '{Reason}'" : $"no close frame ({Reason})";
}

/// <summary>
/// A WebSocket client on a bare socket: it completes the handshake, then reads and writes only what a test tells it
/// to (it never answers pings and never reads unless asked), so it can be slow, silent or malformed at will.
/// </summary>
internal sealed class RawWebSocket : IDisposable
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawWebSocket(Socket socket)
    {
        Socket = socket;
    }

    public Socket Socket { get; }
    public long BytesRead { get; private set; }

    /// <summary>Opens a TCP connection (optionally with a tiny receive buffer, set before connecting).</summary>
    public static async Task<RawWebSocket> OpenAsync(Uri ws, int? receiveBuffer = null, CancellationToken ct = default)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBuffer is { } rb)
        {
            socket.ReceiveBufferSize = rb;
        }
        try
        {
            await socket.ConnectAsync(ws.Host, ws.Port, ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new RawWebSocket(socket);
    }

    /// <summary>Connects and completes the handshake (101), or throws with the status the server answered.</summary>
    public static async Task<RawWebSocket> ConnectAsync(Uri ws, int? receiveBuffer = null, CancellationToken ct = default)
    {
        var raw = await OpenAsync(ws, receiveBuffer, ct).ConfigureAwait(false);
        try
        {
            var (status, head) = await raw.HandshakeAsync(ws, ct).ConfigureAwait(false);
            if (status != 101)
            {
                throw new InvalidOperationException($"handshake answered {status}: {head}");
            }
            return raw;
        }
        catch
        {
            raw.Dispose();
            throw;
        }
    }

    /// <summary>Sends an upgrade request; returns the status code and the response head.</summary>
    public async Task<(int Status, string Head)> HandshakeAsync(Uri ws, CancellationToken ct = default)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = $"GET {ws.PathAndQuery} HTTP/1.1\r\nHost: {ws.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await SendAsync(Encoding.ASCII.GetBytes(request), ct).ConfigureAwait(false);
        while (true)
        {
            var idx = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (idx >= 0)
            {
                var head = Encoding.ASCII.GetString(_buffer, _start, idx);
                _start += idx + 4;
                var parts = head.Split(' ', 3);
                return (parts.Length > 1 && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var s) ? s : 0, head);
            }
            if (!await FillAsync(ct).ConfigureAwait(false))
            {
                return (0, "connection closed during the handshake");
            }
        }
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct = default)
    {
        while (!bytes.IsEmpty)
        {
            var n = await Socket.SendAsync(bytes, SocketFlags.None, ct).ConfigureAwait(false);
            bytes = bytes[n..];
        }
    }

    public Task SendTextAsync(string text, CancellationToken ct = default) => SendAsync(WsFrames.TextFrame(text), ct);

    /// <summary>Reads the next frame the server sent; null at end of stream.</summary>
    public async Task<ServerFrame?> ReadFrameAsync(CancellationToken ct = default)
    {
        while (true)
        {
            var span = _buffer.AsSpan(_start, _end - _start);
            if (span.Length >= 2)
            {
                var len = (long)(span[1] & 0x7F);
                var header = 2;
                if (len == 126 && span.Length >= 4)
                {
                    len = BinaryPrimitives.ReadUInt16BigEndian(span[2..]);
                    header = 4;
                }
                else if (len == 127 && span.Length >= 10)
                {
                    len = (long)BinaryPrimitives.ReadUInt64BigEndian(span[2..]);
                    header = 10;
                }
                if ((span[1] & 0x7F) < 126 || header > 2)
                {
                    if (header + len > _buffer.Length)
                    {
                        throw new InvalidOperationException($"server frame of {len} bytes is larger than the test buffer");
                    }
                    if (span.Length >= header + len)
                    {
                        var frame = new ServerFrame((span[0] & 0x80) != 0, (byte)(span[0] & 0x0F), span.Slice(header, (int)len).ToArray());
                        _start += header + (int)len;
                        return frame;
                    }
                }
            }
            if (!await FillAsync(ct).ConfigureAwait(false))
            {
                return null;
            }
        }
    }

    /// <summary>Reads (and skips) frames until a close frame, the end of the stream or a reset.</summary>
    public async Task<RawEnd> ReadUntilCloseAsync(CancellationToken ct = default)
    {
        var frames = 0;
        try
        {
            while (true)
            {
                var f = await ReadFrameAsync(ct).ConfigureAwait(false);
                if (f is null)
                {
                    return new RawEnd(null, "end of stream", true, frames);
                }
                if (f.Opcode == WsFrames.Close)
                {
                    return new RawEnd(f.CloseCode, f.Payload.Length > 2 ? Encoding.UTF8.GetString(f.Payload, 2, f.Payload.Length - 2) : string.Empty, false, frames);
                }
                frames++;
            }
        }
        catch (SocketException ex)
        {
            return new RawEnd(null, ex.SocketErrorCode.ToString(), true, frames);
        }
    }

    /// <summary>Reads text frames until one satisfies <paramref name="match"/>.</summary>
    public async Task<string> ReadTextUntilAsync(Func<string, bool> match, CancellationToken ct = default)
    {
        while (true)
        {
            var f = await ReadFrameAsync(ct).ConfigureAwait(false) ?? throw new InvalidOperationException("connection ended while waiting for a text message");
            if (f.Opcode == WsFrames.Text && match(f.Text))
            {
                return f.Text;
            }
        }
    }

    private async Task<bool> FillAsync(CancellationToken ct)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            throw new InvalidOperationException("test buffer full");
        }
        var n = await Socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false);
        if (n == 0)
        {
            return false;
        }
        _end += n;
        BytesRead += n;
        return true;
    }

    /// <summary>Drops the connection without a FIN handshake (RST).</summary>
    public void Reset()
    {
        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
        }
        Socket.Dispose();
    }

    public void Dispose() => Socket.Dispose();
}

/// <summary>Process and endpoint probes: RSS, Prometheus counters, health, polling.</summary>
internal static partial class Probe
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Resident set size of a process in MiB (VmRSS of /proc/PID/status).</summary>
    public static double RssMiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        throw new InvalidOperationException("no VmRSS for " + pid);
    }

    /// <summary>Sum of every sample of a Prometheus metric (all label sets); 0 when absent.</summary>
    public static Task<double> MetricAsync(PushProcess p, string name, CancellationToken ct = default)
        => MetricAsync(p, name, null, ct);

    /// <summary>Sum of the samples of a Prometheus metric whose labels contain <paramref name="label"/> (all when null); 0 when absent.</summary>
    public static async Task<double> MetricAsync(PushProcess p, string name, string? label, CancellationToken ct = default)
    {
        var text = await Http.GetStringAsync(new Uri(p.Http!, "/metrics"), ct).ConfigureAwait(false);
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && (line[name.Length] == ' ' || line[name.Length] == '{')
                && (label is null || line.Contains(label, StringComparison.Ordinal)))
            {
                var value = line[(line.LastIndexOf(' ') + 1)..];
                sum += double.Parse(value, CultureInfo.InvariantCulture);
            }
        }
        return sum;
    }

    /// <summary>The process's /metrics lines about worker links and events (for a failure message).</summary>
    public static async Task<string> MetricsTextAsync(PushProcess p, CancellationToken ct = default)
    {
        var text = await Http.GetStringAsync(new Uri(p.Http!, "/metrics"), ct).ConfigureAwait(false);
        return string.Join('\n', text.Split('\n').Where(l => l.StartsWith("push_gateway_worker", StringComparison.Ordinal) || l.StartsWith("push_gateway_messages", StringComparison.Ordinal)));
    }

    public static async Task<int> ReadyStatusAsync(PushProcess p, CancellationToken ct = default)
    {
        try
        {
            using var r = await Http.GetAsync(new Uri(p.Http!, "/healthz/ready"), ct).ConfigureAwait(false);
            return (int)r.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    /// <summary>Polls <paramref name="condition"/> every 50 ms until it holds; fails with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        RpcException? last = null;
        while (DateTime.UtcNow < deadline)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                if (await condition().ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (RpcException ex)
            {
                last = ex;
            }
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
        throw new TimeoutException($"not within {timeout.TotalSeconds} s: {what}" + (last is null ? string.Empty : $" (last error: {last.Status})"));
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken ct = default)
        => UntilAsync(() => Task.FromResult(condition()), timeout, what, ct);

    /// <summary>Waits until a gateway's GetStatus reports <paramref name="workers"/> open worker streams.</summary>
    public static Task UntilWorkersAsync(PushControlClient control, int workers, CancellationToken ct = default)
        => UntilAsync(async () =>
        {
            var s = await control.GetStatusAsync(ct).ConfigureAwait(false); // with the client's credentials, if any
            return s.Gateways.Count > 0 && s.Gateways.All(g => g.WorkersConnected == workers);
        }, TimeSpan.FromSeconds(20), $"every gateway has {workers} worker stream(s) open", ct);

    [GeneratedRegex("\"clientId\":\"([0-9a-f]{40})\"")]
    public static partial Regex ClientIdPattern();

    /// <summary>A 1 KiB text payload carrying a sequence number.</summary>
    public static string Kilobyte(string tag, int seq) => $"{tag}:{seq:D6}:".PadRight(1024, 'x');

    /// <summary>Parses the sequence number of <see cref="Kilobyte"/>, or -1.</summary>
    public static int SequenceOf(string tag, string text)
        => text.StartsWith(tag + ":", StringComparison.Ordinal) && text.Length > tag.Length + 7 && int.TryParse(text.AsSpan(tag.Length + 1, 6), CultureInfo.InvariantCulture, out var n) ? n : -1;
}

/// <summary>A cluster of real processes: one registry, gateways and demo workers registered with it.</summary>
internal sealed class TestCluster : IAsyncDisposable
{
    private TestCluster(PushProcess registry, PushProcess[] gateways, PushProcess[] workers)
    {
        Registry = registry;
        Gateways = gateways;
        Workers = workers;
    }

    public PushProcess Registry { get; private set; }
    public PushProcess[] Gateways { get; }
    public PushProcess[] Workers { get; }

    public static async Task<TestCluster> StartAsync(int gateways, int workers, string[]? gatewayArgs = null, string[]? workerArgs = null, CancellationToken ct = default)
    {
        var registry = await PushProcess.StartAsync("registry", cancellationToken: ct).ConfigureAwait(false);
        var gws = new Task<PushProcess>[gateways];
        var wks = new Task<PushProcess>[workers];
        try
        {
            for (var i = 0; i < workers; i++)
            {
                wks[i] = PushProcess.StartAsync("worker", ["--registry", registry.GrpcAddress, .. workerArgs ?? []], cancellationToken: ct);
            }
            for (var i = 0; i < gateways; i++)
            {
                gws[i] = PushProcess.StartAsync("gateway", ["--registry", registry.GrpcAddress, .. gatewayArgs ?? []], cancellationToken: ct);
            }
            await Task.WhenAll([.. gws, .. wks]).ConfigureAwait(false);
        }
        catch
        {
            foreach (var t in gws.Concat(wks).Where(t => t is { IsCompletedSuccessfully: true }))
            {
                await t.Result.DisposeAsync().ConfigureAwait(false);
            }
            await registry.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var cluster = new TestCluster(registry, gws.Select(t => t.Result).ToArray(), wks.Select(t => t.Result).ToArray());
        foreach (var g in cluster.Gateways)
        {
            using var control = g.Control();
            await Probe.UntilAsync(async () =>
            {
                var s = await control.Raw.GetStatusAsync(new V1.GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: ct).ConfigureAwait(false);
                return s.Gateways.Count == gateways && s.Gateways.All(x => x.WorkersConnected == workers);
            }, TimeSpan.FromSeconds(30), $"gateway sees {gateways} gateways, each with {workers} worker streams", ct).ConfigureAwait(false);
        }
        return cluster;
    }

    /// <summary>Starts a new registry on the same gRPC port as the old one (after it was killed).</summary>
    public async Task RestartRegistryAsync(CancellationToken ct)
    {
        var address = Registry.Grpc;
        await Registry.DisposeAsync().ConfigureAwait(false);
        Registry = await PushProcess.StartAsync("registry", ["--grpc", $"{address.Host}:{address.Port}"], cancellationToken: ct).ConfigureAwait(false);
    }

    public string Describe(PushProcess p)
        => p == Registry ? "registry" : Array.IndexOf(Gateways, p) is var g and >= 0 ? $"gateway {g}" : $"worker {Array.IndexOf(Workers, p)}";

    public string AllOutput() => string.Join("\n", new[] { Registry }.Concat(Gateways).Concat(Workers).Select(p => $"===== {Describe(p)} (exited: {p.HasExited})\n{Tail(p.Output)}"));

    private static string Tail(string s) => s.Length > 6000 ? s[^6000..] : s;

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Gateways.Concat(Workers).Select(p => p.DisposeAsync().AsTask())).ConfigureAwait(false);
        await Registry.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Clients doing echo round trips (the demo worker echoes text) as fast as they get answers.</summary>
internal sealed class EchoLoad
{
    private readonly TestWebSocket[] _clients;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _loops;
    private long _sent;
    private long _echoed;
    private long _lost;
    private int _disconnected;

    public EchoLoad(IEnumerable<TestWebSocket> clients, TimeSpan echoTimeout)
    {
        _clients = clients.ToArray();
        _loops = _clients.Select((c, i) => Task.Run(() => LoopAsync(c, i, echoTimeout))).ToArray();
    }

    public long Sent => Interlocked.Read(ref _sent);
    public long Echoed => Interlocked.Read(ref _echoed);
    public long Lost => Interlocked.Read(ref _lost);
    public int Disconnected => Volatile.Read(ref _disconnected);
    public int Clients => _clients.Length;

    private async Task LoopAsync(TestWebSocket ws, int index, TimeSpan echoTimeout)
    {
        var seq = 0;
        while (!_stop.IsCancellationRequested)
        {
            var text = $"echo:{index}:{++seq}";
            try
            {
                await ws.SendTextAsync(text, CancellationToken.None).ConfigureAwait(false);
                Interlocked.Increment(ref _sent);
                using var wait = new CancellationTokenSource(echoTimeout);
                while (true)
                {
                    var m = await ws.ReceiveTextAsync(wait.Token).ConfigureAwait(false);
                    if (m == text || m == text + " (redelivered)") // the demo worker flags an echo of a redelivered message
                    {
                        Interlocked.Increment(ref _echoed);
                        break;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref _lost);
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.Net.WebSockets.WebSocketException or TimeoutException)
            {
                if (ws.Socket.State != System.Net.WebSockets.WebSocketState.Open || ws.Closed.IsCompleted)
                {
                    Interlocked.Increment(ref _disconnected);
                    return;
                }
                Interlocked.Increment(ref _lost);
            }
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _stop.Dispose();
    }

    public override string ToString() => $"{Sent} echo round trips sent by {Clients} clients: {Echoed} answered, {Lost} lost, {Disconnected} client(s) disconnected";
}

/// <summary>A backend pushing numbered messages to a group at a fixed rate, and clients recording what they get.</summary>
internal sealed class PushLoad
{
    private readonly List<(TestWebSocket Ws, string Label, HashSet<int> Seen, Task Reader)> _clients = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly string _group;
    private Task? _pusher;
    private readonly HashSet<int> _acked = [];
    private int _next = -1;
    private long _failed;

    public PushLoad(string group)
    {
        _group = group;
    }

    public int Pushed => Math.Max(0, Volatile.Read(ref _next));
    public long Failed => Interlocked.Read(ref _failed);
    public long Acknowledged
    {
        get { lock (_acked) { return _acked.Count; } }
    }

    public void Add(TestWebSocket ws, string label)
    {
        var seen = new HashSet<int>();
        var reader = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var m = await ws.ReceiveTextAsync(CancellationToken.None).ConfigureAwait(false);
                    var n = Probe.SequenceOf("p", m);
                    if (n >= 0)
                    {
                        lock (seen)
                        {
                            seen.Add(n);
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or OperationCanceledException)
            {
                // closed, or idle once the load stopped
            }
        });
        _clients.Add((ws, label, seen, reader));
    }

    /// <summary>Pushes through <paramref name="control"/> every <paramref name="interval"/>.</summary>
    public void Start(PushControlClient control, TimeSpan interval)
    {
        _pusher = Task.Run(async () =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var n = 0;
            while (!_stop.IsCancellationRequested)
            {
                var seq = Interlocked.Increment(ref _next);
                try
                {
                    await control.Raw.SendToGroupAsync(new V1.SendToGroupRequest { Groups = { _group }, Text = $"p:{seq:D6}:" }, deadline: DateTime.UtcNow.AddSeconds(5)).ConfigureAwait(false);
                    lock (_acked)
                    {
                        _acked.Add(seq);
                    }
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref _failed);
                }
                n++;
                var due = interval * n - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(due, _stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }
            Interlocked.Increment(ref _next);
        });
    }

    /// <summary>Stops pushing and waits (bounded) until every client still connected has every acknowledged push.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_pusher is not null)
        {
            await _pusher.ConfigureAwait(false);
        }
        await Probe.UntilAsync(() => Connected.All(c => Missing(c.Seen) == 0), TimeSpan.FromSeconds(5), "connected clients have every push").ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
    }

    private IEnumerable<(TestWebSocket Ws, string Label, HashSet<int> Seen, Task Reader)> Connected
        => _clients.Where(c => c.Ws.Socket.State == System.Net.WebSockets.WebSocketState.Open && !c.Ws.Closed.IsCompleted);

    private int Missing(HashSet<int> seen)
    {
        lock (_acked)
        {
            lock (seen)
            {
                return _acked.Count(n => !seen.Contains(n));
            }
        }
    }

    /// <summary>Per label: clients still connected, clients disconnected, pushes received by connected clients / expected.</summary>
    public IReadOnlyList<(string Label, int Connected, int Disconnected, long Received, long Expected)> Report()
    {
        var expected = Acknowledged;
        return _clients.GroupBy(c => c.Label).Select(g =>
        {
            var connected = g.Where(c => c.Ws.Socket.State == System.Net.WebSockets.WebSocketState.Open && !c.Ws.Closed.IsCompleted).ToArray();
            var received = connected.Sum(c => expected - Missing(c.Seen));
            return (g.Key, connected.Length, g.Count() - connected.Length, received, expected * connected.Length);
        }).ToArray();
    }

    public override string ToString()
        => $"{Pushed} pushes ({Failed} failed at the API): " + string.Join("; ", Report().Select(r => $"{r.Label}: {r.Connected} connected got {r.Received}/{r.Expected}, {r.Disconnected} lost their connection"));
}
