using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using Push.Testing;

namespace Push.ClusterTests;

/// <summary>
/// Clients that each send a numbered text, wait for the demo worker's echo (up to <see cref="AnswerTimeout"/>), and
/// send the next: at most one message per client is in flight. Records when each message was sent and answered. An
/// echo flagged " (redelivered)" (the demo worker's mark of a message redelivered after a worker died) answers its
/// message too; a second answer is allowed only with that flag.
/// </summary>
internal sealed class EchoTraffic(IReadOnlyList<TestWebSocket> clients)
{
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(1.5);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _pending = new();
    private readonly ConcurrentDictionary<string, TimeSpan> _sent = new();
    private readonly ConcurrentDictionary<string, TimeSpan> _answered = new();
    private readonly ConcurrentBag<string> _unexpected = [];
    private int _redelivered;
    private int _duplicates;
    private readonly CancellationTokenSource _stop = new();
    private Task[] _loops = [];

    public TimeSpan Now => _clock.Elapsed;

    public int Sent => _sent.Count;

    public int Answered => _answered.Count;

    /// <summary>Messages never answered, with the time they were sent.</summary>
    public IReadOnlyList<(string Payload, TimeSpan SentAt)> Lost
        => _sent.Where(s => !_answered.ContainsKey(s.Key)).Select(s => (s.Key, s.Value)).OrderBy(s => s.Value).ToArray();

    public IReadOnlyCollection<string> Unexpected => _unexpected;

    /// <summary>Answers flagged redelivered.</summary>
    public int Redelivered => Volatile.Read(ref _redelivered);

    /// <summary>Second answers to a message (each flagged redelivered; an unflagged one is <see cref="Unexpected"/>).</summary>
    public int Duplicates => Volatile.Read(ref _duplicates);

    public void Start(CancellationToken ct)
    {
        _loops = clients.Select((c, i) => Task.WhenAll(ReceiveAsync(c, ct), SendAsync(c, i, ct))).ToArray();
    }

    /// <summary>Messages sent at or after <paramref name="from"/> that were never answered.</summary>
    public int LostSentAfter(TimeSpan from) => Lost.Count(l => l.SentAt >= from);

    private async Task SendAsync(TestWebSocket c, int index, CancellationToken ct)
    {
        for (var seq = 0; !_stop.IsCancellationRequested; seq++)
        {
            var payload = $"echo-{index}-{seq}";
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[payload] = tcs;
            _sent[payload] = Now;
            await c.SendTextAsync(payload, ct);
            await Task.WhenAny(tcs.Task, Task.Delay(AnswerTimeout, ct));
            await Task.Delay(10, ct);
        }
    }

    private async Task ReceiveAsync(TestWebSocket c, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
        while (!linked.IsCancellationRequested)
        {
            try
            {
                Record((await c.ReceiveAsync(linked.Token)).Text);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Record(string text)
    {
        const string Flag = " (redelivered)";
        var redelivered = text.EndsWith(Flag, StringComparison.Ordinal);
        var payload = redelivered ? text[..^Flag.Length] : text;
        if (redelivered)
        {
            Interlocked.Increment(ref _redelivered);
        }
        if (_pending.TryRemove(payload, out var tcs))
        {
            _answered[payload] = Now;
            tcs.TrySetResult();
        }
        else if (redelivered && _answered.ContainsKey(payload))
        {
            Interlocked.Increment(ref _duplicates);
        }
        else
        {
            _unexpected.Add(text);
        }
    }

    /// <summary>Stops sending, then waits for every answer still on its way (a marker round trip per client).</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        foreach (var c in clients)
        {
            foreach (var m in await c.DrainUntilEchoAsync(ct))
            {
                Record(m.Type == WebSocketMessageType.Text ? m.Text : "[binary]");
            }
        }
    }
}
