using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace Push.Bench.Limit;

/// <summary>The limit server's connections, groups and uids (plain concurrent dictionaries, as in the baseline).</summary>
public sealed class LimitHub
{
    private long _nextId;
    private long _dropped;

    public ConcurrentDictionary<string, LimitConn> Clients { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, ConcurrentDictionary<string, LimitConn>> Groups { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, LimitConn> Uids { get; } = new(StringComparer.Ordinal);

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues frames without waiting; a full queue drops them and counts every message dropped.</summary>
    public bool Enqueue(LimitConn conn, ReadOnlyMemory<byte> frames, int messages)
    {
        if (conn.Enqueue(frames, messages))
        {
            return true;
        }
        Interlocked.Add(ref _dropped, messages);
        return false;
    }

    /// <summary>Queues several frames at once; a full queue drops all of them and counts every message dropped.</summary>
    public bool EnqueueMany(LimitConn conn, ReadOnlyMemory<byte>[] frames)
    {
        if (conn.EnqueueMany(frames))
        {
            return true;
        }
        Interlocked.Add(ref _dropped, frames.Length);
        return false;
    }

    public string NextId() => $"{Environment.ProcessId & 0xFFFFFFF:x8}{Interlocked.Increment(ref _nextId):x20}";

    public void Remove(LimitConn conn)
    {
        Clients.TryRemove(conn.Id, out _);
        if (conn.Uid is { } uid)
        {
            Uids.TryRemove(new KeyValuePair<string, LimitConn>(uid, conn));
        }
        var groups = conn.Groups;
        if (groups is null)
        {
            return;
        }
        lock (groups)
        {
            foreach (var g in groups)
            {
                if (Groups.TryGetValue(g, out var members))
                {
                    members.TryRemove(conn.Id, out _);
                }
            }
        }
    }
}

/// <summary>
/// The limit's WebSocket port: a Kestrel <see cref="ConnectionHandler"/> (no HTTP request object kept under the
/// socket) that reads the upgrade request itself, answers 101, greets with <c>{"clientId":"…"}</c> and runs the
/// hand-written framing of <see cref="LimitConn"/>. Minimal checks: GET, a Sec-WebSocket-Key, headers under 8 KiB.
/// </summary>
public sealed class LimitConnectionHandler(LimitHub hub) : ConnectionHandler
{
    private static readonly byte[] AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        string? key = null;
        while (true)
        {
            var read = await input.ReadAsync().ConfigureAwait(false);
            var buffer = read.Buffer;
            var end = FindHeaderEnd(buffer);
            if (end is long at)
            {
                key = ParseKey(buffer.Slice(0, at));
                input.AdvanceTo(buffer.GetPosition(at + 4));
                break;
            }
            if (read.IsCompleted || buffer.Length > 8192)
            {
                return;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
        if (key is null)
        {
            await output.WriteAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray()).ConfigureAwait(false);
            return;
        }
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 for Sec-WebSocket-Accept
        string accept = Convert.ToBase64String(SHA1.HashData([.. Encoding.ASCII.GetBytes(key), .. AcceptGuid]));
#pragma warning restore CA5350
        await output.WriteAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n")).ConfigureAwait(false);

        var conn = new LimitConn(hub.NextId(), output, hub);
        hub.Clients[conn.Id] = conn;
        conn.Enqueue(LimitConn.Frame(0x1, Encoding.UTF8.GetBytes($"{{\"clientId\":\"{conn.Id}\"}}")), 1);
        await conn.ReadLoopAsync(input).ConfigureAwait(false);
    }

    private static long? FindHeaderEnd(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> head, "\r\n\r\n"u8, advancePastDelimiter: false) ? head.Length : null;
    }

    private static string? ParseKey(ReadOnlySequence<byte> head)
    {
        string text = Encoding.ASCII.GetString(head);
        if (!text.StartsWith("GET ", StringComparison.Ordinal))
        {
            return null;
        }
        foreach (string line in text.Split("\r\n"))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals("Sec-WebSocket-Key", StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }
        return null;
    }
}
