using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Push.Gateway.Routing.Nats;

/// <summary>How <see cref="NatsInterest"/> reaches NATS (a fake in unit tests).</summary>
internal interface ISubjectSubscriber
{
    /// <summary>Subscribes; the result unsubscribes when disposed.</summary>
    ValueTask<IAsyncDisposable> SubscribeAsync(string subject, CancellationToken ct);

    /// <summary>A round trip to the server: every subscription sent before it is registered there when it completes.</summary>
    ValueTask PingAsync(CancellationToken ct);
}

/// <summary>
/// This gateway's NATS subscriptions, one per subject it has interest in, reference-counted (a subject is subscribed
/// while its count is above zero). Changes come from <see cref="ConnectionTable"/> under its lock, so they are only
/// queued here (never blocking) and applied in order by one loop; <see cref="SyncAsync"/> completes once every change
/// queued before it is applied and a PING has come back, i.e. the server has the subscriptions. The queue holds one
/// entry per membership transition not yet applied (bounded by the joins and leaves in flight).
/// </summary>
internal sealed class NatsInterest(ISubjectSubscriber subscriber, ILogger logger, TimeProvider time)
{
    private readonly Channel<Op> _ops = Channel.CreateUnbounded<Op>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, Entry> _subjects = new(StringComparer.Ordinal);
    private int _subscribed;

    /// <summary>Subjects subscribed now.</summary>
    public int Subscribed => Volatile.Read(ref _subscribed);

    /// <summary>The reference count of a subject (tests; read from the loop's thread or after <see cref="SyncAsync"/>).</summary>
    public int RefCount(string subject)
    {
        lock (_subjects)
        {
            return _subjects.TryGetValue(subject, out var e) ? e.Refs : 0;
        }
    }

    /// <summary>Queues a change of interest (+1 on, -1 off). Never blocks.</summary>
    public void Change(string subject, bool on) => _ops.Writer.TryWrite(new Op(subject, on ? 1 : -1, null));

    /// <summary>Completes when every change queued before it is in effect on the server.</summary>
    public Task SyncAsync(CancellationToken ct)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ObjectDisposedException.ThrowIf(!_ops.Writer.TryWrite(new Op(null, 0, done)), this);
        return done.Task.WaitAsync(ct);
    }

    /// <summary>Applies the queued changes until <paramref name="ct"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var reader = _ops.Reader;
        List<TaskCompletionSource>? barriers = null;
        try
        {
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                var sinceBarrier = 0;
                // A barrier waits for at most 256 more changes behind it, so a stream of joins cannot hold it back.
                while ((barriers is null || sinceBarrier++ < 256) && reader.TryRead(out var op))
                {
                    if (op.Barrier is not null)
                    {
                        (barriers ??= []).Add(op.Barrier);
                        continue;
                    }
                    await ApplyAsync(op.Subject!, op.Delta, ct).ConfigureAwait(false);
                }
                if (barriers is not null)
                {
                    await RetryAsync("PING after subscribing", async () => { await subscriber.PingAsync(ct).ConfigureAwait(false); return 0; }, ct).ConfigureAwait(false);
                    foreach (var b in barriers)
                    {
                        b.TrySetResult();
                    }
                    barriers = null;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            _ops.Writer.TryComplete();
            foreach (var b in barriers ?? [])
            {
                b.TrySetCanceled(ct);
            }
            while (reader.TryRead(out var op))
            {
                op.Barrier?.TrySetCanceled(ct);
            }
        }
    }

    private async Task ApplyAsync(string subject, int delta, CancellationToken ct)
    {
        Entry? e;
        int before;
        lock (_subjects)
        {
            if (!_subjects.TryGetValue(subject, out e))
            {
                if (delta < 0)
                {
                    NatsLog.Unbalanced(logger, subject);
                    return;
                }
                _subjects[subject] = e = new Entry();
            }
            before = e.Refs;
            e.Refs = Math.Max(0, e.Refs + delta);
        }
        if (before == 0 && e.Refs > 0)
        {
            e.Subscription = await RetryAsync("subscribing to " + subject, () => subscriber.SubscribeAsync(subject, ct), ct).ConfigureAwait(false);
            Interlocked.Increment(ref _subscribed);
        }
        else if (before > 0 && e.Refs == 0)
        {
            lock (_subjects)
            {
                _subjects.Remove(subject);
            }
            Interlocked.Decrement(ref _subscribed);
            if (e.Subscription is { } sub)
            {
                try
                {
                    await sub.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NATS.Client.Core.NatsException or TimeoutException or InvalidOperationException or OperationCanceledException && !ct.IsCancellationRequested)
                {
                    // The client forgot the subscription already; the server drops it with the connection at worst, and
                    // a publication it still sends finds no member here (delivers 0).
                    NatsLog.UnsubscribeFailed(logger, subject, ex.Message);
                }
            }
        }
    }

    // NATS calls during a connection loss fail or time out: retried (with a growing pause, at most 2 s) until they
    // succeed, which keeps the order of changes; barriers wait meanwhile.
    private async Task<T> RetryAsync<T>(string what, Func<ValueTask<T>> call, CancellationToken ct)
    {
        var pause = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NATS.Client.Core.NatsException or TimeoutException or InvalidOperationException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                NatsLog.SubscribeFailed(logger, what, ex.Message);
                await Task.Delay(pause, time, ct).ConfigureAwait(false);
                pause = TimeSpan.FromMilliseconds(Math.Min(2000, pause.TotalMilliseconds * 2));
            }
        }
    }

    private readonly record struct Op(string? Subject, int Delta, TaskCompletionSource? Barrier);

    private sealed class Entry
    {
        public int Refs;
        public IAsyncDisposable? Subscription;
    }
}
