namespace Push.Worker.Grpc;

/// <summary>
/// The acknowledgement watermark of one gateway stream (StreamEventsResponse.ack). Events are numbered from 1 in the
/// order they were read; each completes when its callbacks returned and their commands were queued, in any order
/// across clients. The watermark is the highest N such that events 1..N all completed. An ack may only travel once
/// the commands of the events it covers were written: each advance of the watermark records the command queue's
/// admission count at that moment (a checkpoint), and <see cref="Take"/> returns the highest checkpoint whose commands
/// the writer has taken. Checkpoints are bounded by the events in flight (a lane's queue plus one per lane).
/// Each completed event may leave a <see cref="Handled"/> record (its client and Event.seq); <see cref="Take"/> hands
/// over the records of the events an ack covers, for <see cref="HandledSeqs"/> once that ack is written.
/// </summary>
internal sealed class AckWindow
{
    /// <summary>What became of a client with an event: handled, closed (its last event) or moved to another gateway.</summary>
    internal enum Outcome
    {
        Handled,
        Closed,
        Moved,
    }

    /// <summary>An event's client, sequence and outcome, kept until the ack that covers it is written.</summary>
    internal readonly record struct Handled(string ClientId, ulong Seq, Outcome Outcome);

    private readonly Lock _sync = new();
    private readonly Dictionary<ulong, Handled> _records = [];
    private readonly HashSet<ulong> _completedAhead = [];
    private readonly Queue<(ulong Ack, long Commands)> _checkpoints = new();
    private ulong _read;
    private ulong _watermark;
    private ulong _sent;
    private TaskCompletionSource? _news;

    /// <summary>Events completed without a gap from the first.</summary>
    public ulong Watermark
    {
        get { lock (_sync) { return _watermark; } }
    }

    /// <summary>The last ack handed to the writer.</summary>
    public ulong Sent
    {
        get { lock (_sync) { return _sent; } }
    }

    /// <summary>Numbers the next event read from the stream.</summary>
    public ulong Next()
    {
        lock (_sync)
        {
            return ++_read;
        }
    }

    /// <summary>
    /// Event <paramref name="number"/> completed; <paramref name="commandsAdmitted"/> is the command queue's admission
    /// count now (every command its callbacks made is at or below it).
    /// </summary>
    /// <remarks><paramref name="notify"/> false: a waiting writer is not told (the caller wakes it, or calls <see cref="Notify"/>).</remarks>
    public void Complete(ulong number, long commandsAdmitted, Handled? record = null, bool notify = true)
    {
        TaskCompletionSource? news = null;
        lock (_sync)
        {
            if (record is { } r)
            {
                _records[number] = r;
            }
            if (number != _watermark + 1)
            {
                _completedAhead.Add(number);
                return;
            }
            _watermark = number;
            while (_completedAhead.Remove(_watermark + 1))
            {
                _watermark++;
            }
            _checkpoints.Enqueue((_watermark, commandsAdmitted));
            if (notify)
            {
                news = _news;
                _news = null;
            }
        }
        news?.TrySetResult();
    }

    /// <summary>Tells a waiting writer that the watermark moved, if it did (after <c>Complete(notify: false)</c>).</summary>
    public void Notify()
    {
        TaskCompletionSource? news = null;
        lock (_sync)
        {
            if (_checkpoints.Count > 0)
            {
                news = _news;
                _news = null;
            }
        }
        news?.TrySetResult();
    }

    /// <summary>Completes when the watermark has moved past the last ack taken (at once if it has).</summary>
    public Task WhenNews()
    {
        lock (_sync)
        {
            if (_checkpoints.Count > 0)
            {
                return Task.CompletedTask;
            }
            _news ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _news.Task;
        }
    }

    /// <summary>
    /// The ack to send now that the writer has taken every command admitted up to <paramref name="commandsTaken"/>: the
    /// highest checkpoint at or below it, or 0 when there is no news. The records of the events it covers go to
    /// <paramref name="covered"/>, in stream order.
    /// </summary>
    public ulong Take(long commandsTaken, List<Handled>? covered = null)
    {
        lock (_sync)
        {
            var ack = 0UL;
            while (_checkpoints.TryPeek(out var c) && c.Commands <= commandsTaken)
            {
                _checkpoints.Dequeue();
                ack = c.Ack;
            }
            if (ack > _sent)
            {
                if (_records.Count > 0)
                {
                    for (var n = _sent + 1; n <= ack; n++)
                    {
                        if (_records.Remove(n, out var r))
                        {
                            covered?.Add(r);
                        }
                    }
                }
                _sent = ack;
                return ack;
            }
            return 0;
        }
    }
}
