using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;

namespace Push.Bench.Baseline;

/// <summary>One accepted WebSocket of the baseline server.</summary>
public sealed class BaselineConn(string id, WebSocket socket, int queueCapacity)
{
    public string Id { get; } = id;

    public WebSocket Socket { get; } = socket;

    /// <summary>The bounded send queue; a writer task drains it into the socket.</summary>
    public Channel<ReadOnlyMemory<byte>> Queue { get; } = Channel.CreateBounded<ReadOnlyMemory<byte>>(
        new BoundedChannelOptions(queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public string? Uid { get; set; }

    /// <summary>Groups joined (guarded by locking the connection).</summary>
    public List<string>? Groups { get; set; }
}

/// <summary>
/// The baseline's connection registry and WebSocket loop: the textbook design
/// (UseWebSockets + AcceptWebSocketAsync, one bounded Channel and one writer
/// task per connection, a payload encoded to UTF-8 once and the same bytes
/// queued to every target). Text frames only. Echo: every message a client
/// sends is queued back to it unchanged. Groups and uids are plain
/// concurrent dictionaries so the same gRPC control calls can drive it.
/// </summary>
public sealed class BaselineHub
{
    public const int QueueCapacity = 1024;
    private long _nextId;

    public ConcurrentDictionary<string, BaselineConn> Clients { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, ConcurrentDictionary<string, BaselineConn>> Groups { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, BaselineConn> Uids { get; } = new(StringComparer.Ordinal);

    public long Dropped => Interlocked.Read(ref _dropped);

    private long _dropped;

    /// <summary>Queues a message without waiting; a full queue drops it and counts the drop.</summary>
    public bool Enqueue(BaselineConn conn, ReadOnlyMemory<byte> message)
    {
        if (conn.Queue.Writer.TryWrite(message))
        {
            return true;
        }
        Interlocked.Increment(ref _dropped);
        return false;
    }

    public async Task RunAsync(WebSocket socket)
    {
        // 28 hex characters, like the suite's client ids.
        string id = $"{Environment.ProcessId & 0xFFFFFFF:x8}{Interlocked.Increment(ref _nextId):x20}";
        var conn = new BaselineConn(id, socket, QueueCapacity);
        Clients[id] = conn;
        Enqueue(conn, Encoding.UTF8.GetBytes($"{{\"clientId\":\"{id}\"}}"));
        var writer = WriteLoopAsync(conn);
        try
        {
            await ReadLoopAsync(conn).ConfigureAwait(false);
        }
        finally
        {
            Remove(conn);
            conn.Queue.Writer.TryComplete();
            await writer.ConfigureAwait(false);
            if (socket.State == WebSocketState.CloseReceived)
            {
                try
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
                {
                }
            }
        }
    }

    private void Remove(BaselineConn conn)
    {
        Clients.TryRemove(conn.Id, out _);
        if (conn.Uid is { } uid)
        {
            Uids.TryRemove(new KeyValuePair<string, BaselineConn>(uid, conn));
        }
        lock (conn)
        {
            foreach (var g in conn.Groups ?? [])
            {
                if (Groups.TryGetValue(g, out var members))
                {
                    members.TryRemove(conn.Id, out _);
                }
            }
        }
    }

    private async Task ReadLoopAsync(BaselineConn conn)
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                ValueWebSocketReceiveResult result = await conn.Socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                int length = result.Count;
                byte[] message = buffer;
                while (!result.EndOfMessage)
                {
                    if (length == message.Length)
                    {
                        if (length >= 1 << 20)
                        {
                            return;
                        }
                        var bigger = new byte[message.Length * 2];
                        message.AsSpan(0, length).CopyTo(bigger);
                        message = bigger;
                    }
                    result = await conn.Socket.ReceiveAsync(message.AsMemory(length), CancellationToken.None).ConfigureAwait(false);
                    length += result.Count;
                }
                // Echo: the same bytes back to the sender.
                Enqueue(conn, message.AsSpan(0, length).ToArray());
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
        {
        }
    }

    private static async Task WriteLoopAsync(BaselineConn conn)
    {
        var reader = conn.Queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var message))
                {
                    await conn.Socket.SendAsync(message, WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
        {
            conn.Socket.Abort();
        }
    }
}
