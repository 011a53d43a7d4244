using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Push.Bench.Load;

/// <summary>Receives every complete data message of the connections of a pool.</summary>
public interface IMessageSink
{
    void OnMessage(WsConn conn, ReadOnlySpan<byte> payload);
}

/// <summary>
/// A minimal WebSocket client over a raw <see cref="Socket"/> (RFC 6455,
/// client side): the upgrade request, masked client frames, unmasked server
/// frames, fragmentation, ping/pong and close. No TLS, no extensions. One
/// receive loop per connection; sends are synchronous under a lock, so a sink
/// can answer from the receive loop without a task.
/// </summary>
public sealed class WsConn
{
    private const int InitialBuffer = 2048;
    private const int MaxMessage = 1 << 20;
    private static readonly byte[] AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();

    private readonly Socket _socket;
    private readonly ClientPool _pool;
    private readonly Lock _sendLock = new();
    private byte[] _buf = new byte[InitialBuffer];
    private int _len;
    private byte[]? _fragment;
    private int _fragmentLength;
    private TaskCompletionSource<string>? _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _closed;

    /// <summary>Timed messages received since the driver last reset it (written by the receive loop only).</summary>
    internal int Received;

    private WsConn(int index, Socket socket, ClientPool pool)
    {
        Index = index;
        _socket = socket;
        _pool = pool;
    }

    public int Index { get; }

    /// <summary>The id the server announced in its first message (<c>{"clientId":"..."}</c>).</summary>
    public string? ClientId { get; private set; }

    public bool Closed => _closed;

    /// <summary>
    /// Connects from <paramref name="source"/>, upgrades and waits for the
    /// server's first message (the client id). Throws on failure or timeout.
    /// </summary>
    public static async Task<WsConn> ConnectAsync(int index, IPEndPoint server, IPAddress source, ClientPool pool, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        WsConn? conn = null;
        try
        {
            TrySetBindAddressNoPort(socket);
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(server, ct).ConfigureAwait(false);
            conn = new WsConn(index, socket, pool);
            await conn.HandshakeAsync(server, ct).ConfigureAwait(false);
            var first = conn._first!.Task;
            _ = conn.ReceiveLoopAsync();
            await first.WaitAsync(ct).ConfigureAwait(false);
            return conn;
        }
        catch
        {
            conn?.MarkClosed();
            socket.Dispose();
            throw;
        }
    }

    // Linux IP_BIND_ADDRESS_NO_PORT: bind the source address now, pick the port at connect time,
    // so that ports are shared between destinations instead of reserved at bind.
    private static void TrySetBindAddressNoPort(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        try
        {
            socket.SetRawSocketOption(0 /* SOL_IP */, 24 /* IP_BIND_ADDRESS_NO_PORT */, BitConverter.GetBytes(1));
        }
        catch (SocketException)
        {
        }
    }

    private async Task HandshakeAsync(IPEndPoint server, CancellationToken ct)
    {
        Span<byte> keyBytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(keyBytes);
        string key = Convert.ToBase64String(keyBytes);
        string request =
            $"GET /bench HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        byte[] req = Encoding.ASCII.GetBytes(request);
        int sent = 0;
        while (sent < req.Length)
        {
            sent += await _socket.SendAsync(req.AsMemory(sent), SocketFlags.None, ct).ConfigureAwait(false);
        }

        int headerEnd;
        while (true)
        {
            headerEnd = _buf.AsSpan(0, _len).IndexOf("\r\n\r\n"u8);
            if (headerEnd >= 0)
            {
                break;
            }
            if (_len == _buf.Length)
            {
                throw new IOException("upgrade response headers too large");
            }
            int n = await _socket.ReceiveAsync(_buf.AsMemory(_len), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("connection closed during the upgrade");
            }
            _len += n;
        }

        string head = Encoding.ASCII.GetString(_buf, 0, headerEnd);
        if (!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
        {
            throw new IOException("upgrade refused: " + head.Split("\r\n")[0]);
        }
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 for Sec-WebSocket-Accept
        string expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key).Concat(AcceptGuid).ToArray()));
#pragma warning restore CA5350
        bool acceptOk = false;
        foreach (string line in head.Split("\r\n"))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals("Sec-WebSocket-Accept", StringComparison.OrdinalIgnoreCase))
            {
                acceptOk = line.AsSpan(colon + 1).Trim().SequenceEqual(expected);
            }
        }
        if (!acceptOk)
        {
            throw new IOException("bad Sec-WebSocket-Accept");
        }

        int consumed = headerEnd + 4;
        Buffer.BlockCopy(_buf, consumed, _buf, 0, _len - consumed);
        _len -= consumed;
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            while (!_closed)
            {
                int need = ParseFrames();
                if (need > _buf.Length)
                {
                    Array.Resize(ref _buf, Math.Max(need, _buf.Length * 2));
                }
                else if (_len == _buf.Length)
                {
                    Array.Resize(ref _buf, _buf.Length * 2);
                }
                if (_closed)
                {
                    break;
                }
                int n = await _socket.ReceiveAsync(_buf.AsMemory(_len), SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                _len += n;
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            MarkClosed();
        }
    }

    private void MarkClosed()
    {
        _closed = true;
        _first?.TrySetException(new IOException("closed before the first message"));
    }

    /// <summary>Handles every complete frame in the buffer; returns the buffer size the next frame needs.</summary>
    private int ParseFrames()
    {
        int pos = 0;
        int need = 0;
        while (true)
        {
            var span = _buf.AsSpan(pos, _len - pos);
            if (span.Length < 2)
            {
                break;
            }
            byte b0 = span[0];
            byte b1 = span[1];
            long length = b1 & 0x7F;
            int header = 2;
            if (length == 126)
            {
                if (span.Length < 4)
                {
                    break;
                }
                length = BinaryPrimitives.ReadUInt16BigEndian(span.Slice(2));
                header = 4;
            }
            else if (length == 127)
            {
                if (span.Length < 10)
                {
                    break;
                }
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(span.Slice(2));
                header = 10;
            }
            bool masked = (b1 & 0x80) != 0;
            if (masked)
            {
                header += 4;
            }
            if (length > MaxMessage)
            {
                throw new IOException("frame too large");
            }
            if (span.Length < header + length)
            {
                need = header + (int)length;
                break;
            }
            var payload = span.Slice(header, (int)length);
            if (masked)
            {
                var key = span.Slice(header - 4, 4);
                for (int i = 0; i < payload.Length; i++)
                {
                    payload[i] ^= key[i & 3];
                }
            }
            HandleFrame((b0 & 0x80) != 0, b0 & 0x0F, payload);
            pos += header + (int)length;
        }
        if (pos > 0)
        {
            Buffer.BlockCopy(_buf, pos, _buf, 0, _len - pos);
            _len -= pos;
        }
        return need;
    }

    private void HandleFrame(bool fin, int opcode, Span<byte> payload)
    {
        switch (opcode)
        {
            case 0x0: // continuation
            case 0x1: // text
            case 0x2: // binary
                if (fin && _fragment is null)
                {
                    Deliver(payload);
                    return;
                }
                if (_fragment is null || _fragment.Length < _fragmentLength + payload.Length)
                {
                    Array.Resize(ref _fragment, Math.Max(256, (_fragmentLength + payload.Length) * 2));
                }
                payload.CopyTo(_fragment.AsSpan(_fragmentLength));
                _fragmentLength += payload.Length;
                if (fin)
                {
                    Deliver(_fragment.AsSpan(0, _fragmentLength));
                    _fragment = null;
                    _fragmentLength = 0;
                }
                return;
            case 0x8: // close: answer with the same code, then stop
                SendFrame(0x8, payload.Length >= 2 ? payload.Slice(0, 2) : default);
                _closed = true;
                try
                {
                    _socket.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                }
                return;
            case 0x9: // ping
                SendFrame(0xA, payload);
                return;
            default: // pong and reserved opcodes
                return;
        }
    }

    private void Deliver(ReadOnlySpan<byte> message)
    {
        if (ClientId is null && _first is not null)
        {
            ClientId = ExtractClientId(message) ?? string.Empty;
            var first = _first;
            _first = null;
            first.TrySetResult(ClientId);
            return;
        }
        _pool.Sink?.OnMessage(this, message);
    }

    private static string? ExtractClientId(ReadOnlySpan<byte> message)
    {
        var marker = "\"clientId\":\""u8;
        int i = message.IndexOf(marker);
        if (i < 0)
        {
            return null;
        }
        var rest = message.Slice(i + marker.Length);
        int end = rest.IndexOf((byte)'"');
        return end < 0 ? null : Encoding.UTF8.GetString(rest.Slice(0, end));
    }

    /// <summary>Sends one text message (masked, one frame). Returns false when the connection is gone.</summary>
    public bool SendText(ReadOnlySpan<byte> payload) => SendFrame(0x1, payload);

    private bool SendFrame(int opcode, ReadOnlySpan<byte> payload)
    {
        int header = payload.Length < 126 ? 2 : payload.Length <= ushort.MaxValue ? 4 : 10;
        int total = header + 4 + payload.Length;
        byte[]? rented = null;
        Span<byte> frame = total <= 512 ? stackalloc byte[total] : (rented = ArrayPool<byte>.Shared.Rent(total)).AsSpan(0, total);
        try
        {
            frame[0] = (byte)(0x80 | opcode);
            if (header == 2)
            {
                frame[1] = (byte)(0x80 | payload.Length);
            }
            else if (header == 4)
            {
                frame[1] = 0x80 | 126;
                BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(2), (ushort)payload.Length);
            }
            else
            {
                frame[1] = 0x80 | 127;
                BinaryPrimitives.WriteUInt64BigEndian(frame.Slice(2), (ulong)payload.Length);
            }
            var mask = frame.Slice(header, 4);
            BinaryPrimitives.WriteInt32LittleEndian(mask, Random.Shared.Next() | 1);
            var body = frame.Slice(header + 4);
            for (int i = 0; i < payload.Length; i++)
            {
                body[i] = (byte)(payload[i] ^ mask[i & 3]);
            }
            lock (_sendLock)
            {
                int sent = 0;
                while (sent < frame.Length)
                {
                    sent += _socket.Send(frame.Slice(sent), SocketFlags.None);
                }
            }
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Sends a close frame (1000) and releases the socket.</summary>
    public void Close()
    {
        if (!_closed)
        {
            Span<byte> code = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(code, 1000);
            SendFrame(0x8, code);
        }
        _closed = true;
        _socket.Dispose();
    }
}

/// <summary>A set of client connections sharing one message sink.</summary>
public sealed class ClientPool : IDisposable
{
    private readonly List<WsConn> _conns = [];

    public IMessageSink? Sink { get; set; }

    public IReadOnlyList<WsConn> Conns => _conns;

    public int Failed { get; private set; }

    public string? FirstError { get; private set; }

    /// <summary>Seconds the last <see cref="ConnectAsync"/> took.</summary>
    public double ConnectSeconds { get; private set; }

    /// <summary>
    /// Opens <paramref name="count"/> connections, <paramref name="concurrency"/>
    /// at a time, from source addresses 127.0.0.srcFrom .. 127.0.0.(srcFrom+srcCount-1).
    /// A connection counts once its first message (the client id) arrived.
    /// </summary>
    public async Task ConnectAsync(IPEndPoint server, int count, int concurrency, int srcFrom, int srcCount, TimeSpan timeout)
    {
        var sources = Enumerable.Range(0, Math.Max(1, srcCount))
            .Select(i => new IPAddress(new byte[] { 127, 0, 0, (byte)(srcFrom + i) }))
            .ToArray();
        using var cts = new CancellationTokenSource(timeout);
        var results = new WsConn?[count];
        int next = -1;
        int failed = 0;
        string? firstError = null;
        int baseIndex = _conns.Count;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();

        async Task Worker()
        {
            while (true)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= count || cts.IsCancellationRequested)
                {
                    return;
                }
                try
                {
                    results[i] = await WsConn.ConnectAsync(baseIndex + i, server, sources[i % sources.Length], this, cts.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
                {
                    Interlocked.Increment(ref failed);
                    Interlocked.CompareExchange(ref firstError, ex.Message, null);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, Math.Min(concurrency, count))).Select(_ => Task.Run(Worker))).ConfigureAwait(false);
        ConnectSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        foreach (var c in results)
        {
            if (c is not null)
            {
                _conns.Add(c);
            }
        }
        // failed attempts plus those never tried before the timeout
        Failed = count - results.Count(r => r is not null);
        FirstError ??= firstError;
    }

    public void ResetCounters()
    {
        foreach (var c in _conns)
        {
            Volatile.Write(ref c.Received, 0);
        }
    }

    public long TotalReceived()
    {
        long n = 0;
        foreach (var c in _conns)
        {
            n += Volatile.Read(ref c.Received);
        }
        return n;
    }

    public int OpenCount() => _conns.Count(c => !c.Closed);

    public void Dispose()
    {
        foreach (var c in _conns)
        {
            c.Close();
        }
        _conns.Clear();
    }
}
