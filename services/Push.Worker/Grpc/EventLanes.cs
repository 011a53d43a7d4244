using System.Threading.Channels;
using Push.V1;
using Push.Worker.Diagnostics;

namespace Push.Worker.Grpc;

/// <summary>
/// The lanes of one gateway stream: events are spread by client id (a client's events run in order, one at a time;
/// different clients in parallel), each lane a bounded channel (Worker:QueueCapacity) drained by one loop. The loops
/// stop at <c>stop</c> between two events; <see cref="DiscardQueued"/> then says how many were left.
/// </summary>
internal sealed class EventLanes
{
    private readonly Channel<Event>[] _lanes;
    private readonly WorkerMetrics _metrics;
    private Task _loops = Task.CompletedTask;

    public EventLanes(int count, int capacity, WorkerMetrics metrics)
    {
        _metrics = metrics;
        _lanes = new Channel<Event>[count];
        for (var i = 0; i < count; i++)
        {
            _lanes[i] = Channel.CreateBounded<Event>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        }
    }

    /// <summary>Completes when every lane loop has returned (it never faults).</summary>
    public Task Completion => _loops;

    /// <summary>
    /// Starts one loop per lane calling <paramref name="handle"/> for each event. A loop ends when its lane is completed
    /// and empty, or at <paramref name="stop"/>; an exception other than that cancellation goes to <paramref name="fault"/>.
    /// </summary>
    public void Start(Func<Event, CancellationToken, ValueTask> handle, Action<Exception> fault, CancellationToken stop)
    {
        var loops = new Task[_lanes.Length];
        for (var i = 0; i < _lanes.Length; i++)
        {
            var reader = _lanes[i].Reader;
            loops[i] = Task.Run(() => RunLaneAsync(reader, handle, fault, stop), CancellationToken.None);
        }
        _loops = Task.WhenAll(loops);
    }

    /// <summary>Queues an event on its client's lane, waiting while that lane is full.</summary>
    public async ValueTask PostAsync(Event e, CancellationToken cancellationToken)
    {
        var lane = _lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(e.ClientId) % (uint)_lanes.Length)].Writer;
        if (!lane.TryWrite(e))
        {
            await lane.WriteAsync(e, cancellationToken).ConfigureAwait(false);
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
            while (l.Reader.TryRead(out _))
            {
                n++;
            }
        }
        _metrics.EventsQueued(-n);
        return n;
    }

    private async Task RunLaneAsync(ChannelReader<Event> reader, Func<Event, CancellationToken, ValueTask> handle, Action<Exception> fault, CancellationToken stop)
    {
        try
        {
            while (await reader.WaitToReadAsync(stop).ConfigureAwait(false))
            {
                while (!stop.IsCancellationRequested && reader.TryRead(out var e))
                {
                    _metrics.EventsQueued(-1);
                    await handle(e, stop).ConfigureAwait(false);
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
