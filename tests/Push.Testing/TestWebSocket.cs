using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Push.Testing;

/// <summary>A message a <see cref="TestWebSocket"/> received.</summary>
public sealed record ReceivedMessage(WebSocketMessageType Type, byte[] Data)
{
    public string Text => Encoding.UTF8.GetString(Data);
}

/// <summary>A real ClientWebSocket with a receive loop that queues every message, and helpers to await them.</summary>
public sealed class TestWebSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<ReceivedMessage> _messages = Channel.CreateUnbounded<ReceivedMessage>();
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Reason)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;

    public ClientWebSocket Socket => _socket;

    /// <summary>The client id from the demo worker's {"clientId":...} greeting (set by <see cref="ConnectAsync"/> when greeted).</summary>
    public string ClientId { get; private set; } = string.Empty;

    public Task<(WebSocketCloseStatus? Status, string? Reason)> Closed => _closed.Task;

    /// <summary>Connects; with <paramref name="expectGreeting"/> waits for {"clientId":...} and keeps the id.</summary>
    public static async Task<TestWebSocket> ConnectAsync(Uri ws, string path = "/", bool expectGreeting = true, Action<ClientWebSocketOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        var t = new TestWebSocket();
        try
        {
            t._socket.Options.KeepAliveInterval = TimeSpan.Zero;
            configure?.Invoke(t._socket.Options);
            await t._socket.ConnectAsync(new Uri(ws, path), cancellationToken).ConfigureAwait(false);
            t._loop = t.ReceiveLoopAsync();
            if (expectGreeting)
            {
                var greeting = await t.ReceiveTextAsync(cancellationToken).ConfigureAwait(false);
                using var doc = JsonDocument.Parse(greeting);
                t.ClientId = doc.RootElement.GetProperty("clientId").GetString()!;
            }
            return t;
        }
        catch
        {
            // Never leave a connected socket behind (it would stay open, and counted, on the gateway).
            await t.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var ms = new MemoryStream();
                WebSocketReceiveResult r;
                do
                {
                    r = await _socket.ReceiveAsync(buffer, CancellationToken.None).ConfigureAwait(false);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        _closed.TrySetResult((r.CloseStatus, r.CloseStatusDescription));
                        _messages.Writer.TryComplete();
                        return;
                    }
                    ms.Write(buffer, 0, r.Count);
                }
                while (!r.EndOfMessage);
                _messages.Writer.TryWrite(new ReceivedMessage(r.MessageType, ms.ToArray()));
            }
        }
        catch (Exception ex)
        {
            _closed.TrySetResult((null, ex.Message));
            _messages.Writer.TryComplete();
        }
    }

    public async Task<ReceivedMessage> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(TestTimeouts.Short);
        try
        {
            return await _messages.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            var c = _closed.Task.IsCompleted ? _closed.Task.Result : default;
            throw new InvalidOperationException($"socket closed ({c.Status} {c.Reason}) while a message was expected");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("no message within " + TestTimeouts.Short);
        }
    }

    public async Task<string> ReceiveTextAsync(CancellationToken cancellationToken = default)
    {
        var m = await ReceiveAsync(cancellationToken).ConfigureAwait(false);
        return m.Type == WebSocketMessageType.Text ? m.Text : throw new InvalidOperationException("expected a text message, got binary");
    }

    /// <summary>True when no message is queued right now (use after a marker round trip, not after a sleep).</summary>
    public bool HasNoPendingMessage => !_messages.Reader.TryPeek(out _);

    public Task SendTextAsync(string text, CancellationToken cancellationToken = default)
        => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cancellationToken);

    public Task SendBinaryAsync(byte[] data, CancellationToken cancellationToken = default)
        => _socket.SendAsync(data, WebSocketMessageType.Binary, true, cancellationToken);

    /// <summary>Sends a text that the demo worker echoes and waits for it: everything sent to this client before is then received.</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> DrainUntilEchoAsync(CancellationToken cancellationToken = default)
    {
        var marker = "marker-" + Guid.NewGuid().ToString("N");
        await SendTextAsync(marker, cancellationToken).ConfigureAwait(false);
        var before = new List<ReceivedMessage>();
        while (true)
        {
            var m = await ReceiveAsync(cancellationToken).ConfigureAwait(false);
            // The demo worker flags the echo of a message redelivered after a worker died.
            if (m.Type == WebSocketMessageType.Text && (m.Text == marker || m.Text == marker + " (redelivered)"))
            {
                return before;
            }
            before.Add(m);
        }
    }

    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cancellationToken).ConfigureAwait(false);
            }
            catch (WebSocketException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await CloseAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
        _socket.Abort();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        _socket.Dispose();
    }
}
