using System.Collections.Concurrent;

namespace Push.Gateway.Connections;

/// <summary>
/// Runs the send pumps of a fan-out. A push to thousands of connections queues its frame on each of them; instead of
/// one thread-pool work item per connection and push, the connections whose pump must start go into one queue that a
/// few sweepers (at most half the cores, at least one) drain in order, running each pump until it has written what is
/// queued. While a sweeper works through a long queue the next pushes add their frames behind the ones not yet
/// written, so each connection's pump writes several frames at once: the same coalescing a broadcaster that takes a
/// whole burst in one call gets, without holding any frame back on purpose.
/// Process-wide (static): it holds no state of a gateway, only connections waiting for their pump, and a connection
/// field pointing to it would cost every idle connection 8 bytes.
/// </summary>
internal static class SendScheduler
{
    private static readonly ConcurrentQueue<ClientConnection> Waiting = new();
    private static readonly int MaxSweepers = Math.Max(1, Environment.ProcessorCount / 2);
    private static readonly Sweep Worker = new();

    // A second sweeper starts only while this many connections wait (one sweeper keeps up with short queues).
    private const int BacklogPerSweeper = 512;

    private static int _sweepers;
    private static int _waiting;

    // Set while this thread runs a fan-out loop: its connections wait for the end of the loop (see BeginFanout).
    [ThreadStatic]
    private static bool t_inFanout;

    /// <summary>
    /// Holds back the sweepers for the connections this thread schedules until the scope ends: a sweeper started at
    /// the first connection of a fan-out would write each frame the moment the loop queued it (one write per frame,
    /// chasing the loop from the other core); started at the end it finds every target's frame, and those of the
    /// pushes running meanwhile, and writes them together.
    /// </summary>
    public static FanoutScope BeginFanout()
    {
        if (t_inFanout)
        {
            return default;
        }
        t_inFanout = true;
        return new FanoutScope(true);
    }

    /// <summary>Starts <paramref name="connection"/>'s pump soon (its caller set it pumping under its send lock).</summary>
    public static void Schedule(ClientConnection connection)
    {
        Waiting.Enqueue(connection);
        var waiting = Interlocked.Increment(ref _waiting);
        if (!t_inFanout)
        {
            Kick(waiting);
        }
    }

    private static void Kick(int waiting)
    {
        var sweepers = Volatile.Read(ref _sweepers);
        if (waiting > 0 && (sweepers == 0 || (sweepers < MaxSweepers && waiting > BacklogPerSweeper * sweepers)))
        {
            TryStartSweeper(sweepers);
        }
    }

    /// <summary>Ends <see cref="BeginFanout"/>: starts a sweeper for what the loop scheduled.</summary>
    internal readonly struct FanoutScope(bool owner) : IDisposable
    {
        public void Dispose()
        {
            if (owner)
            {
                t_inFanout = false;
                Kick(Volatile.Read(ref _waiting));
            }
        }
    }

    private static void TryStartSweeper(int seen)
    {
        if (Interlocked.CompareExchange(ref _sweepers, seen + 1, seen) == seen)
        {
            ThreadPool.UnsafeQueueUserWorkItem(Worker, preferLocal: false);
        }
    }

    private sealed class Sweep : IThreadPoolWorkItem
    {
        public void Execute()
        {
            while (true)
            {
                while (Waiting.TryDequeue(out var c))
                {
                    Interlocked.Decrement(ref _waiting);
                    // Runs synchronously until the pump's first flush that must wait; that one continues on its own.
                    c.RunPump();
                }
                Interlocked.Decrement(ref _sweepers);
                // A connection queued after the last TryDequeue but before the decrement saw a running sweeper and
                // started none: look once more, and go on if nobody else took over.
                if (Waiting.IsEmpty)
                {
                    return;
                }
                var seen = Volatile.Read(ref _sweepers);
                if (seen >= MaxSweepers || Interlocked.CompareExchange(ref _sweepers, seen + 1, seen) != seen)
                {
                    return;
                }
            }
        }
    }
}
