namespace Push.Gateway.Connections;

/// <summary>
/// Lets a connection leave this gateway without a push slipping past it: every push that looks connections up holds
/// the gate while it sends (two interlocked operations per push, not per connection), and a move that removed a
/// connection from the table waits until every push that could still have seen it has finished (a grace period in the
/// read-copy-update sense: pushes that start later cannot find it). Written by hand because the point is that pushes
/// never wait: a reader-writer lock would make them.
/// </summary>
internal sealed class FanoutGate
{
    private readonly int[] _active = new int[2 * 16]; // two counters on separate cache lines
    private readonly Lock _sync = new();
    private Task _lastGrace = Task.CompletedTask; // graces run one after the other
    private int _epoch;

    public Scope Enter()
    {
        while (true)
        {
            var e = Volatile.Read(ref _epoch) & 1;
            Interlocked.Increment(ref _active[e * 16]);
            if ((Volatile.Read(ref _epoch) & 1) == e)
            {
                return new Scope(this, e);
            }
            Interlocked.Decrement(ref _active[e * 16]); // the epoch flipped under us: count in the new one
        }
    }

    /// <summary>Completes when every push that entered before this call has left.</summary>
    public async Task WaitForReadersAsync(TimeProvider time, CancellationToken ct = default)
    {
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task previous;
        lock (_sync)
        {
            previous = _lastGrace;
            _lastGrace = mine.Task;
        }
        await previous.ConfigureAwait(false);
        try
        {
            var old = Interlocked.Increment(ref _epoch) - 1;
            var slot = (old & 1) * 16;
            var spin = new SpinWait();
            while (Volatile.Read(ref _active[slot]) != 0)
            {
                if (spin.NextSpinWillYield)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(1), time, ct).ConfigureAwait(false);
                }
                else
                {
                    spin.SpinOnce();
                }
            }
        }
        finally
        {
            mine.SetResult();
        }
    }

    public readonly struct Scope(FanoutGate gate, int epoch) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref gate._active[epoch * 16]);
    }
}
