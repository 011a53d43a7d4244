using System.Threading.Channels;
using Push.V1;
using Push.Worker.Diagnostics;

namespace Push.Worker.Grpc;

/// <summary>
/// The lanes of one gateway stream: events are spread by client id (a client's events run in order, one at a time;
/// different clients in parallel), each lane a bounded channel (Worker:QueueCapacity) drained by one loop, and all
/// lanes together bounded by bytes (Worker:EventQueueBytes; an event larger than that is admitted when the lanes are
/// empty). Posting waits for room: the stream stops being read and HTTP/2 flow control holds the gateway. The loops
/// stop at <c>stop</c> between two events; <see cref="DiscardQueued"/> then says how many were left.
/// </summary>
internal sealed class EventLanes
{
    private readonly Channel<(Event Event, int Size, ulong Number)>[] _lanes;
    private readonly WorkerMetrics _metrics;
    private readonly long _budget;
    private readonly Lock _sync = new();
    private long _bytes;
    private TaskCompletionSource? _room;
    private Task _loops = Task.CompletedTask;

    public EventLanes(int count, int capacity, long byteBudget, WorkerMetrics metrics)
    {
        _metrics = metrics;
        _budget = byteBudget;
        _lanes = new Channel<(Event, int, ulong)>[count];
        for (var i = 0; i < count; i++)
        {
            _lanes[i] = Channel.CreateBounded<(Event, int, ulong)>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        }
    }

    /// <summary>Encoded bytes of the events queued in the lanes.</summary>
    public long Bytes
    {
        get
        {
            lock (_sync)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Completes when every lane loop has returned (it never faults).</summary>
    public Task Completion => _loops;

    /// <summary>
    /// Starts one loop per lane calling <paramref name="handle"/> for each event. A loop ends when its lane is completed
    /// and empty, or at <paramref name="stop"/>; an exception other than that cancellation goes to <paramref name="fault"/>.
    /// </summary>
    public void Start(Func<Event, ulong, CancellationToken, ValueTask> handle, Action<Exception> fault, CancellationToken stop)
    {
        var loops = new Task[_lanes.Length];
        for (var i = 0; i < _lanes.Length; i++)
        {
            var reader = _lanes[i].Reader;
            loops[i] = Task.Run(() => RunLaneAsync(reader, handle, fault, stop), CancellationToken.None);
        }
        _loops = Task.WhenAll(loops);
    }

    /// <summary>
    /// Queues an event on its client's lane, waiting while the lanes' bytes or that lane's count are at their bound;
    /// <paramref name="number"/> (its place on the stream) goes to the handler with it.
    /// </summary>
    public async ValueTask PostAsync(Event e, ulong number, CancellationToken cancellationToken)
    {
        var size = e.CalculateSize();
        while (true)
        {
            Task room;
            lock (_sync)
            {
                if (_bytes == 0 || _bytes + size <= _budget)
                {
                    _bytes += size;
                    break;
                }
                _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                room = _room.Task;
            }
            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        var lane = _lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(e.ClientId) % (uint)_lanes.Length)].Writer;
        try
        {
            if (!lane.TryWrite((e, size, number)))
            {
                await lane.WriteAsync((e, size, number), cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            Release(size);
            throw;
        }
        _metrics.EventsQueued(1);
    }

    /// <summary>No more events: each loop ends once its lane is empty.</summary>
    public void Complete()
    {
        foreach (var l in _lanes)
        {
            l.Writer.TryComplete();
        }
    }

    /// <summary>After the loops stopped: drops the events still queued and returns how many.</summary>
    public int DiscardQueued()
    {
        var n = 0;
        foreach (var l in _lanes)
        {
            while (l.Reader.TryRead(out var item))
            {
                Release(item.Size);
                n++;
            }
        }
        _metrics.EventsQueued(-n);
        return n;
    }

    private void Release(int size)
    {
        TaskCompletionSource? room;
        lock (_sync)
        {
            _bytes -= size;
            room = _room;
            _room = null;
        }
        room?.TrySetResult();
    }

    private async Task RunLaneAsync(ChannelReader<(Event Event, int Size, ulong Number)> reader, Func<Event, ulong, CancellationToken, ValueTask> handle, Action<Exception> fault, CancellationToken stop)
    {
        try
        {
            while (await reader.WaitToReadAsync(stop).ConfigureAwait(false))
            {
                while (!stop.IsCancellationRequested && reader.TryRead(out var item))
                {
                    _metrics.EventsQueued(-1);
                    Release(item.Size);
                    await handle(item.Event, item.Number, stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // the stream ended: what is left is counted by DiscardQueued
        }
        catch (Exception ex)
        {
            fault(ex);
        }
    }
}
