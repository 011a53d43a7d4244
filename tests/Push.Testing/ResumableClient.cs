using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Xunit;

namespace Push.Testing;

/// <summary>The welcome a push.v1 connection starts with (docs/protocol-push-v1.md).</summary>
public sealed record Welcome(string ClientId, string Secret, ulong Seq, bool Resumed, string? ResumeFailed);

/// <summary>An application message of a push.v1 connection with its sequence number.</summary>
public sealed record SeqMessage(ulong Seq, WebSocketMessageType Type, byte[] Data)
{
    public string Text => Encoding.UTF8.GetString(Data);
}

/// <summary>
/// A real ClientWebSocket speaking push.v1 as a minimal SDK would: counts application messages, acknowledges them,
/// and can drop its socket abruptly (<see cref="Abort"/>) and resume with <see cref="ConnectAsync"/>'s token.
/// </summary>
public sealed class ResumableClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<SeqMessage> _messages = Channel.CreateUnbounded<SeqMessage>();
    private readonly List<string> _controls = [];
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Reason)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _autoAck;
    private Task? _loop;
    private long _seq;

    private ResumableClient(bool autoAck) => _autoAck = autoAck;

    public Welcome Welcome { get; private set; } = null!;

    /// <summary>Sequence of the last application message received.</summary>
    public ulong LastSeq => (ulong)Interlocked.Read(ref _seq);

    public ClientWebSocket Socket => _socket;

    public Task<(WebSocketCloseStatus? Status, string? Reason)> Closed => _closed.Task;

    /// <summary>Control messages other than the welcome (JSON), in arrival order.</summary>
    public IReadOnlyList<string> Controls
    {
        get { lock (_controls) { return [.. _controls]; } }
    }

    /// <summary>Connects with push.v1; with <paramref name="resume"/> (a previous connection's welcome and last sequence) asks to resume.</summary>
    public static async Task<ResumableClient> ConnectAsync(Uri ws, (Welcome Welcome, ulong LastSeq)? resume = null, string path = "/", bool autoAck = true, CancellationToken cancellationToken = default)
    {
        var c = new ResumableClient(autoAck);
        try
        {
            c._socket.Options.KeepAliveInterval = TimeSpan.Zero;
            c._socket.Options.AddSubProtocol("push.v1");
            if (resume is { } r)
            {
                c._socket.Options.AddSubProtocol($"push.resume.{r.Welcome.ClientId}.{r.Welcome.Secret}.{r.LastSeq.ToString(CultureInfo.InvariantCulture)}");
            }
            await c._socket.ConnectAsync(new Uri(ws, path), cancellationToken).ConfigureAwait(false);
            Assert.Equal("push.v1", c._socket.SubProtocol);
            var welcome = new TaskCompletionSource<Welcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            c._loop = c.ReceiveLoopAsync(welcome);
            c.Welcome = await welcome.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return c;
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task ReceiveLoopAsync(TaskCompletionSource<Welcome> welcome)
    {
        var buffer = new byte[64 * 1024];
        var unacked = 0;
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
                        welcome.TrySetException(new InvalidOperationException($"closed before the welcome: {r.CloseStatus} {r.CloseStatusDescription}"));
                        return;
                    }
                    ms.Write(buffer, 0, r.Count);
                }
                while (!r.EndOfMessage);
                var data = ms.ToArray();
                if (r.MessageType == WebSocketMessageType.Binary)
                {
                    if (data.Length > 0 && data[0] == 0x01)
                    {
                        var json = Encoding.UTF8.GetString(data, 1, data.Length - 1);
                        using var doc = JsonDocument.Parse(json);
                        var root = doc.RootElement;
                        if (root.GetProperty("type").GetString() == "welcome")
                        {
                            // Count from the welcome's seq before any message after it is read.
                            Interlocked.Exchange(ref _seq, (long)root.GetProperty("seq").GetUInt64());
                            welcome.TrySetResult(new Welcome(
                                root.GetProperty("client_id").GetString()!,
                                root.GetProperty("resume_secret").GetString()!,
                                root.GetProperty("seq").GetUInt64(),
                                root.GetProperty("resumed").GetBoolean(),
                                root.TryGetProperty("resume_failed", out var f) ? f.GetString() : null));
                        }
                        else
                        {
                            lock (_controls)
                            {
                                _controls.Add(json);
                            }
                        }
                        continue;
                    }
                    Assert.True(data.Length > 0 && data[0] == 0x00, "a push.v1 binary application message starts with 0x00");
                    data = data[1..];
                }
                var seq = (ulong)Interlocked.Increment(ref _seq);
                _messages.Writer.TryWrite(new SeqMessage(seq, r.MessageType, data));
                if (_autoAck && ++unacked >= 16)
                {
                    unacked = 0;
                    await AckAsync(seq).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex)
        {
            _closed.TrySetResult((null, ex.Message));
            _messages.Writer.TryComplete();
            welcome.TrySetException(ex);
        }
    }

    public Task AckAsync(ulong seq) => SendControlAsync($"{{\"type\":\"ack\",\"seq\":{seq.ToString(CultureInfo.InvariantCulture)}}}");

    public async Task SendControlAsync(string json, CancellationToken ct = default)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(json) + 1];
        bytes[0] = 0x01;
        Encoding.UTF8.GetBytes(json, bytes.AsSpan(1));
        await _socket.SendAsync(bytes, WebSocketMessageType.Binary, true, ct).ConfigureAwait(false);
    }

    public Task SendTextAsync(string text, CancellationToken ct = default)
        => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, ct);

    public async Task<SeqMessage> ReceiveAsync(CancellationToken ct)
    {
        if (await _messages.Reader.WaitToReadAsync(ct).ConfigureAwait(false) && _messages.Reader.TryRead(out var m))
        {
            return m;
        }
        var closed = _closed.Task.IsCompleted ? _closed.Task.Result : default;
        throw new InvalidOperationException($"the connection closed ({closed.Status} {closed.Reason}) before a message arrived");
    }

    /// <summary>The messages received so far and not read yet.</summary>
    public List<SeqMessage> Drain()
    {
        var list = new List<SeqMessage>();
        while (_messages.Reader.TryRead(out var m))
        {
            list.Add(m);
        }
        return list;
    }

    /// <summary>Drops the TCP connection without a close frame (a network failure as the gateway sees it).</summary>
    public void Abort() => _socket.Abort();

    /// <summary>What to pass to <see cref="ConnectAsync"/> to resume this connection.</summary>
    public (Welcome Welcome, ulong LastSeq) ResumeToken => (Welcome, LastSeq);

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
                _socket.Abort(); // the close handshake did not finish: nothing is left open either way
            }
        }
        if (_loop is not null)
        {
            await Task.WhenAny(_loop, Task.Delay(2000)).ConfigureAwait(false);
        }
        _socket.Dispose();
    }
}
