using Push.Gateway.Connections;
using Push.V1;

namespace Push.Gateway.Workers;

/// <summary>What became of a post into a <see cref="LinkQueue"/>.</summary>
internal enum PostResult
{
    /// <summary>Admitted: it counts against the budget until the worker acknowledges it (or the stream ends).</summary>
    Queued,

    /// <summary>Over budget: it holds its place in line and is admitted when acknowledged events free room.</summary>
    Waiting,

    /// <summary>The link is not open (its stream failed, is not open yet, or ended): nothing was queued.</summary>
    Closed,
}

/// <summary>
/// The events of one worker link, bounded by bytes (Gateway:WorkerQueueBytes) and, for those not written yet, by count
/// (Gateway:WorkerQueueCapacity). An event counts against the budget from the moment it is admitted until the worker
/// acknowledges it (StreamEventsResponse.ack: events are numbered per stream from 1 in write order, the ack is
/// cumulative), so the bytes a link holds (queued, in flight, written and unacknowledged) never exceed the budget;
/// only an event into an empty link is admitted whatever its size (a frame within limits always gets through).
/// A post that does not fit waits in line, in post order: it already has its place (nothing overtakes it) and its
/// poster gets a task that completes when it is admitted, which the receive loop awaits (backpressure to the client's
/// TCP). Each connection has at most one such post (its receive loop awaits it) plus its close event, so the line is
/// bounded by the number of connections. A worker that never acknowledges fills the budget: posts wait (backpressure,
/// as with a worker that stopped reading) until the stream ends. <see cref="Close"/> refuses later posts and hands
/// back, in order, every event the worker has not acknowledged: the written ones and the batch being written (flagged
/// <see cref="Event.Redelivered"/>: the worker may have run them), then the admitted events, then the waiting ones.
/// </summary>
internal sealed class LinkQueue(long budgetBytes, int capacity)
{
    private readonly Lock _sync = new();
    private readonly Queue<Entry> _admitted = new();
    private readonly Queue<Entry> _waiting = new();
    private readonly Queue<Entry> _unacked = new(); // taken into a batch (written or being written), not acknowledged
    private int _inFlight; // events of the batch being written (the tail of _unacked)
    private long _bytes; // admitted + in flight + written and not acknowledged
    private ulong _written; // events taken into batches on the current stream (numbered 1.. in that order)
    private ulong _acked; // events the worker acknowledged on the current stream
    private long _waitingBytes;
    private bool _open;
    private TaskCompletionSource<bool>? _readable;

    /// <summary>One queued event, the connection it belongs to (null: none to re-pin) and, while it waits, its poster's signal.</summary>
    internal readonly record struct Entry(Event Event, int Size, ClientConnection? Connection, TaskCompletionSource? Admitted);

    public long BudgetBytes => budgetBytes;

    public bool IsOpen
    {
        get { lock (_sync) { return _open; } }
    }

    /// <summary>Bytes admitted and not acknowledged (queued + the batch being written + written, unacknowledged).</summary>
    public long Bytes
    {
        get { lock (_sync) { return _bytes; } }
    }

    /// <summary>Events admitted and not yet written.</summary>
    public int Count
    {
        get { lock (_sync) { return _admitted.Count + _inFlight; } }
    }

    /// <summary>Events written (or being written) on the current stream that the worker has not acknowledged.</summary>
    public int Unacked
    {
        get { lock (_sync) { return _unacked.Count; } }
    }

    /// <summary>Events the worker acknowledged on the current stream.</summary>
    public ulong Acked
    {
        get { lock (_sync) { return _acked; } }
    }

    public int WaitingCount
    {
        get { lock (_sync) { return _waiting.Count; } }
    }

    public long WaitingBytes
    {
        get { lock (_sync) { return _waitingBytes; } }
    }

    /// <summary>
    /// Queues an event. <paramref name="admitted"/> completes when it counts against the budget (at once for
    /// <see cref="PostResult.Queued"/> and <see cref="PostResult.Closed"/>).
    /// </summary>
    public PostResult Post(Event e, int size, ClientConnection? connection, out Task admitted)
    {
        TaskCompletionSource<bool>? readable = null;
        lock (_sync)
        {
            if (!_open)
            {
                admitted = Task.CompletedTask;
                return PostResult.Closed;
            }
            if (_waiting.Count == 0 && Fits(size))
            {
                _admitted.Enqueue(new Entry(e, size, connection, null));
                _bytes += size;
                readable = _readable;
                _readable = null;
                admitted = Task.CompletedTask;
            }
            else
            {
                var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Enqueue(new Entry(e, size, connection, tcs));
                _waitingBytes += size;
                admitted = tcs.Task;
                return PostResult.Waiting;
            }
        }
        readable?.TrySetResult(true);
        return PostResult.Queued;
    }

    /// <summary>Waits until events are admitted (true) or the queue is closed (false).</summary>
    public async ValueTask<bool> WaitToReadAsync(CancellationToken ct)
    {
        while (true)
        {
            Task<bool> wait;
            lock (_sync)
            {
                if (_admitted.Count > 0)
                {
                    return true;
                }
                if (!_open)
                {
                    return false;
                }
                _readable ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _readable.Task;
            }
            await wait.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Moves admitted events into the batch being written: up to <paramref name="maxCount"/> events and
    /// <paramref name="maxBytes"/> bytes; one event larger than that goes alone. Returns the batch's bytes. The events
    /// are numbered on the stream from here on (a fast worker may acknowledge them before the write returns) and are
    /// held until acknowledged.
    /// </summary>
    public long TakeBatch(ICollection<Event> batch, int maxCount, long maxBytes)
    {
        lock (_sync)
        {
            long bytes = 0;
            var n = 0;
            while (n < maxCount && _admitted.TryPeek(out var next) && (n == 0 || bytes + next.Size <= maxBytes))
            {
                _admitted.Dequeue();
                _unacked.Enqueue(next);
                n++;
                _inFlight++;
                _written++;
                bytes += next.Size;
                batch.Add(next.Event);
            }
            return bytes;
        }
    }

    /// <summary>
    /// The batch taken by <see cref="TakeBatch"/> was written: its events stay held (their bytes counted) until
    /// acknowledged; waiting events that fit the count bound are admitted.
    /// </summary>
    public void Written()
    {
        List<TaskCompletionSource>? released;
        TaskCompletionSource<bool>? readable;
        lock (_sync)
        {
            _inFlight = 0;
            released = AdmitLocked(out readable);
        }
        Release(released, readable);
    }

    /// <summary>
    /// The worker acknowledged the first <paramref name="count"/> events written on this stream (cumulative): their bytes
    /// are free and waiting events are admitted. An ack at or below the last one is no news; one beyond the events
    /// taken into batches is ignored (false).
    /// </summary>
    public bool Ack(ulong count)
    {
        List<TaskCompletionSource>? released;
        TaskCompletionSource<bool>? readable;
        lock (_sync)
        {
            if (count > _written)
            {
                return false;
            }
            while (_acked < count)
            {
                var entry = _unacked.Dequeue();
                _bytes -= entry.Size;
                _acked++;
            }
            _inFlight = Math.Min(_inFlight, _unacked.Count);
            released = AdmitLocked(out readable);
        }
        Release(released, readable);
        return true;
    }

    // Caller holds _sync.
    private List<TaskCompletionSource>? AdmitLocked(out TaskCompletionSource<bool>? readable)
    {
        List<TaskCompletionSource>? released = null;
        readable = null;
        while (_open && _waiting.TryPeek(out var next) && Fits(next.Size))
        {
            _waiting.Dequeue();
            _waitingBytes -= next.Size;
            _admitted.Enqueue(next with { Admitted = null });
            _bytes += next.Size;
            (released ??= []).Add(next.Admitted!);
        }
        if (released is not null)
        {
            readable = _readable;
            _readable = null;
        }
        return released;
    }

    private static void Release(List<TaskCompletionSource>? released, TaskCompletionSource<bool>? readable)
    {
        readable?.TrySetResult(true);
        if (released is not null)
        {
            foreach (var tcs in released)
            {
                tcs.TrySetResult();
            }
        }
    }

    /// <summary>Accepts posts (a stream is open); its events are numbered from 1.</summary>
    public void Open()
    {
        lock (_sync)
        {
            _open = true;
            _written = 0;
            _acked = 0;
        }
    }

    /// <summary>
    /// Refuses later posts and returns every event the worker has not acknowledged, in order: the written ones and the
    /// unwritten batch (flagged <see cref="Event.Redelivered"/>; <paramref name="sent"/> says how many lead the list),
    /// then the admitted, then the waiting events. The caller completes the waiting posters' signals once it has moved
    /// the events.
    /// </summary>
    public List<Entry> Close(out int sent)
    {
        TaskCompletionSource<bool>? readable;
        List<Entry> all;
        lock (_sync)
        {
            _open = false;
            all = new List<Entry>(_unacked.Count + _admitted.Count + _waiting.Count);
            all.AddRange(_unacked);
            sent = all.Count;
            foreach (var entry in all)
            {
                entry.Event.Redelivered = true;
            }
            all.AddRange(_admitted);
            all.AddRange(_waiting);
            _unacked.Clear();
            _inFlight = 0;
            _admitted.Clear();
            _waiting.Clear();
            _bytes = 0;
            _waitingBytes = 0;
            _written = 0;
            _acked = 0;
            readable = _readable;
            _readable = null;
        }
        readable?.TrySetResult(false);
        return all;
    }

    /// <summary>As <see cref="Close(out int)"/>.</summary>
    public List<Entry> Close() => Close(out _);

    // Caller holds _sync.
    private bool Fits(int size) => _bytes == 0 || (_bytes + size <= budgetBytes && _admitted.Count + _inFlight < capacity);
}
