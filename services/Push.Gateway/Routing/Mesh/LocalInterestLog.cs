using System.Threading.Channels;

namespace Push.Gateway.Routing.Mesh;

/// <summary>
/// This gateway's interest as its watchers (the other gateways) learn it: the groups and uids with members here, a
/// version per change, the changes not yet sent to every watcher, and each watcher's acknowledgements and grants.
/// <see cref="SyncAsync"/> completes once every watcher has acknowledged the changes made before it, or the last lease
/// it was granted on a view without them has run out (then it sends this gateway every push until it is in sync).
/// No sockets here: <see cref="InterestGrpcService"/> moves the messages.
/// </summary>
internal sealed class LocalInterestLog
{
    private readonly Lock _sync = new();
    private readonly HashSet<string> _groups = new(StringComparer.Ordinal);
    private readonly HashSet<string> _uids = new(StringComparer.Ordinal);
    // Changes _firstVersion .. _version (empty when no watcher needs them).
    private readonly List<Change> _log = [];
    private readonly List<Watcher> _watchers = [];
    private readonly TimeProvider _time;
    private readonly int _maxLog;
    private long _firstVersion = 1;
    private long _version;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LocalInterestLog(TimeProvider time, TimeSpan lease, int maxLog = 1 << 16)
    {
        _time = time;
        Lease = lease;
        _maxLog = maxLog;
    }

    /// <summary>How long a grant lets a watcher route by its view, from when it sent the acknowledgement.</summary>
    public TimeSpan Lease { get; }

    /// <summary>What this gateway adds to a lease before it stops waiting for a watcher (clock rates differ a little).</summary>
    public TimeSpan Margin => Lease / 10 + TimeSpan.FromMilliseconds(50);

    public long Version { get { lock (_sync) { return _version; } } }

    public int WatcherCount { get { lock (_sync) { return _watchers.Count(w => w.Open); } } }

    /// <summary>Called when a SyncAsync waited for a lease to run out (a watcher that did not acknowledge).</summary>
    public Action? LeaseWaited { get; set; }

    public readonly record struct Change(InterestKind Kind, string Name, bool On);

    /// <summary>Records a transition (called under ConnectionTable's lock: only bookkeeping, no waiting).</summary>
    public void Apply(InterestKind kind, string name, bool on)
    {
        lock (_sync)
        {
            var set = kind == InterestKind.Group ? _groups : _uids;
            if (on ? !set.Add(name) : !set.Remove(name))
            {
                return; // not a transition of what watchers know: nothing to tell
            }
            _version++;
            if (_watchers.Count == 0)
            {
                _firstVersion = _version + 1; // nobody needs it: new watchers start from a snapshot
                return;
            }
            _log.Add(new Change(kind, name, on));
            if (_log.Count > _maxLog)
            {
                // A watcher this far behind is dropped (its stream ends; it resyncs from a snapshot).
                var drop = _log.Count - _maxLog;
                _log.RemoveRange(0, drop);
                _firstVersion += drop;
            }
            foreach (var w in _watchers)
            {
                w.Wake();
            }
        }
    }

    /// <summary>A new watcher (a stream from <paramref name="peerId"/>) and the snapshot it starts from.</summary>
    public (Watcher Watcher, string[] Groups, string[] Uids, long Version) Open(string peerId)
    {
        lock (_sync)
        {
            // An older stream of the same peer stays until it ends and its last lease runs out: nothing here proves
            // that the peer stopped routing by it.
            var w = new Watcher(peerId) { Sent = _version };
            _watchers.Add(w);
            if (_log.Count == 0)
            {
                _firstVersion = _version + 1;
            }
            Signal();
            return (w, [.. _groups], [.. _uids], _version);
        }
    }

    /// <summary>The changes to send to <paramref name="w"/> and the grant to send after them; null when it fell behind the log.</summary>
    public Batch? Take(Watcher w)
    {
        lock (_sync)
        {
            if (w.Sent < _firstVersion - 1)
            {
                return null;
            }
            var from = (int)(w.Sent + 1 - _firstVersion);
            var changes = from < _log.Count ? _log.GetRange(from, _log.Count - from) : [];
            var first = w.Sent + 1;
            w.Sent = _version;
            InterestGrantOut? grant = null;
            if (w.PendingAckId is { } ackId)
            {
                // Recorded now, after the acknowledgement arrived and before the grant is written: the watcher's
                // lease (from when it sent the acknowledgement) ends before this + Lease.
                w.PendingAckId = null;
                w.Grants.Add((_version, _time.GetTimestamp()));
                grant = new InterestGrantOut(ackId, _version);
            }
            Trim();
            return new Batch(first, changes, grant);
        }
    }

    public readonly record struct InterestGrantOut(ulong AckId, long Version);

    public sealed record Batch(long FirstVersion, List<Change> Changes, InterestGrantOut? Grant);

    /// <summary>An acknowledgement from <paramref name="w"/>: false when it claims a version it was never sent.</summary>
    public bool Acknowledge(Watcher w, long acked, ulong ackId)
    {
        lock (_sync)
        {
            if (acked > w.Sent || acked < w.Acked)
            {
                return false;
            }
            w.Acked = acked;
            w.PendingAckId = ackId;
            // Keep the last grant on a view at or below what it acknowledged, and every later one.
            var keepFrom = w.Grants.FindLastIndex(g => g.Version <= acked);
            if (keepFrom > 0)
            {
                w.Grants.RemoveRange(0, keepFrom);
            }
            w.Wake();
            Signal();
            return true;
        }
    }

    /// <summary>The stream of <paramref name="w"/> ended: it acknowledges nothing more (waited for until its lease runs out).</summary>
    public void Close(Watcher w)
    {
        lock (_sync)
        {
            w.Open = false;
            Trim();
            Signal();
        }
    }

    /// <summary>Completes when every watcher has acknowledged the changes made before this call, or its lease on a view without them has run out.</summary>
    public ValueTask SyncAsync(CancellationToken ct)
    {
        long target;
        Task changed;
        TimeSpan wait;
        lock (_sync)
        {
            target = _version;
            if (Evaluate(target, out wait))
            {
                return ValueTask.CompletedTask;
            }
            changed = _changed.Task;
        }
        return new ValueTask(WaitAsync(target, changed, wait, ct));
    }

    private async Task WaitAsync(long target, Task changed, TimeSpan wait, CancellationToken ct)
    {
        var leaseWaited = false;
        while (true)
        {
            using (var delay = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                var timer = Task.Delay(wait, _time, delay.Token);
                var done = await Task.WhenAny(changed, timer).ConfigureAwait(false);
                await delay.CancelAsync().ConfigureAwait(false);
                ct.ThrowIfCancellationRequested();
                leaseWaited |= done == timer;
            }
            lock (_sync)
            {
                if (Evaluate(target, out wait))
                {
                    break;
                }
                changed = _changed.Task;
            }
        }
        if (leaseWaited)
        {
            LeaseWaited?.Invoke();
        }
    }

    // Under _sync. True when no watcher can still route by a view without version `target`; else how long until the
    // first lease of such a view runs out. Forgets closed watchers whose last lease ran out.
    private bool Evaluate(long target, out TimeSpan wait)
    {
        wait = TimeSpan.MaxValue;
        var now = _time.GetTimestamp();
        var done = true;
        for (var i = _watchers.Count - 1; i >= 0; i--)
        {
            var w = _watchers[i];
            if (!w.Open && (w.Grants.Count == 0 || _time.GetElapsedTime(w.Grants[^1].At, now) >= Lease + Margin))
            {
                _watchers.RemoveAt(i);
                continue;
            }
            if (w.Acked >= target)
            {
                continue;
            }
            // The latest lease granted on a view without `target` (grants after it came after the change).
            var g = w.Grants.FindLastIndex(x => x.Version < target);
            if (g < 0)
            {
                continue; // never routed by such a view
            }
            var left = Lease + Margin - _time.GetElapsedTime(w.Grants[g].At, now);
            if (left > TimeSpan.Zero)
            {
                done = false;
                wait = left < wait ? left : wait;
            }
        }
        if (wait == TimeSpan.MaxValue)
        {
            wait = Lease;
        }
        return done;
    }

    // Under _sync: forget changes every open watcher has been sent.
    private void Trim()
    {
        var min = _version;
        foreach (var w in _watchers)
        {
            if (w.Open && w.Sent < min)
            {
                min = w.Sent;
            }
        }
        var drop = (int)Math.Min(_log.Count, Math.Max(0, min - _firstVersion + 1));
        if (drop > 0)
        {
            _log.RemoveRange(0, drop);
            _firstVersion += drop;
        }
    }

    private void Signal()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    /// <summary>One watcher's stream, as this gateway sees it.</summary>
    internal sealed class Watcher(string peerId)
    {
        private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

        public string PeerId { get; } = peerId;

        /// <summary>The last version written to it (the snapshot's at first).</summary>
        internal long Sent { get; set; }

        internal long Acked { get; set; }

        internal bool Open { get; set; } = true;

        internal ulong? PendingAckId { get; set; }

        /// <summary>Grants written: the version they were on and when (oldest first; pruned as it acknowledges).</summary>
        internal List<(long Version, long At)> Grants { get; } = [];

        /// <summary>Wakes the stream's writer (never blocks).</summary>
        internal void Wake() => _wake.Writer.TryWrite(true);

        /// <summary>Completes when there is something to write (changes or a grant).</summary>
        internal ValueTask<bool> WaitAsync(CancellationToken ct) => _wake.Reader.WaitToReadAsync(ct);

        internal void Consume() => _wake.Reader.TryRead(out _);
    }
}
