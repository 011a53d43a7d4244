using System.Diagnostics.Metrics;

namespace Push.Worker.Diagnostics;

/// <summary>The business worker's instruments (Meter "Push.Worker").</summary>
internal sealed class WorkerMetrics
{
    public const string MeterName = "Push.Worker";

    /// <summary>Tag key of the drop counters.</summary>
    public const string ReasonTag = "push.reason";

    /// <summary>
    /// Bucket boundaries of the callback duration, in seconds (100 µs to 10 s); the exporters' defaults are sized for
    /// milliseconds and would put every callback into le="5".
    /// </summary>
    internal static readonly IReadOnlyList<double> DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Spans of the worker (one per handled event, child of the gateway's span when it sent one).</summary>
    public static readonly System.Diagnostics.ActivitySource Source = new(MeterName);

    private readonly Counter<long> _events;
    private readonly Histogram<double> _callbackDuration;
    private readonly Counter<long> _callbackErrors;
    private readonly Counter<long> _commands;
    private readonly UpDownCounter<long> _streams;
    private readonly UpDownCounter<long> _eventsQueued;
    private readonly UpDownCounter<long> _commandsQueued;
    private readonly Counter<long> _eventsUnhandled;
    private readonly Counter<long> _commandsDropped;
    private readonly Counter<long> _eventsDeduplicated;
    private readonly Counter<long> _eventsRedelivered;

    public WorkerMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(MeterName);
        _events = meter.CreateCounter<long>("push.worker.events", "{event}", "Connection events handled, by kind (connect, message, close, resume, moved).");
        _eventsDeduplicated = meter.CreateCounter<long>("push.worker.events.deduplicated", "{event}", "Redelivered events this worker had handled already (same client and Event.seq): acknowledged without running the callback again.");
        _eventsRedelivered = meter.CreateCounter<long>("push.worker.events.redelivered", "{event}", "Redelivered events (sent before to a worker whose stream ended unacknowledged) whose callback ran here.");
        _callbackDuration = meter.CreateHistogram("push.worker.callback.duration", "s", "Time spent in the application's callbacks, by kind.", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _callbackErrors = meter.CreateCounter<long>("push.worker.callback.errors", "{error}", "Callbacks that threw, by kind.");
        _commands = meter.CreateCounter<long>("push.worker.commands", "{command}", "Commands sent back to gateways.");
        _streams = meter.CreateUpDownCounter<long>("push.worker.gateway_streams.open", "{stream}", "Gateway streams currently attached.");
        _eventsQueued = meter.CreateUpDownCounter<long>("push.worker.events.queued", "{event}", "Events received from gateways and waiting in a lane for their callback.");
        _commandsQueued = meter.CreateUpDownCounter<long>("push.worker.commands.queued", "{command}", "Commands made by callbacks and waiting to be written to their gateway's stream.");
        _eventsUnhandled = meter.CreateCounter<long>("push.worker.events.unhandled", "{event}", "Events received but never given to a callback, by reason (stream_ended, worker_stopping).");
        _commandsDropped = meter.CreateCounter<long>("push.worker.commands.dropped", "{command}", "Commands never sent to their gateway, by reason (stream_ended, queue_full, too_large).");
    }

    public void Event(string kind, double seconds, bool failed)
    {
        var tag = new KeyValuePair<string, object?>("push.event", kind);
        _events.Add(1, tag);
        _callbackDuration.Record(seconds, tag);
        if (failed)
        {
            _callbackErrors.Add(1, tag);
        }
    }

    public void Commands(int count) => _commands.Add(count);

    public void EventDeduplicated() => _eventsDeduplicated.Add(1);

    public void EventRedelivered() => _eventsRedelivered.Add(1);

    public void StreamOpened() => _streams.Add(1);

    public void StreamClosed() => _streams.Add(-1);

    public void EventsQueued(int delta) => _eventsQueued.Add(delta);

    public void CommandsQueued(int delta) => _commandsQueued.Add(delta);

    public void EventsUnhandled(int count, string reason)
    {
        if (count > 0)
        {
            _eventsUnhandled.Add(count, new KeyValuePair<string, object?>(ReasonTag, reason));
        }
    }

    public void CommandsDropped(int count, string reason)
    {
        if (count > 0)
        {
            _commandsDropped.Add(count, new KeyValuePair<string, object?>(ReasonTag, reason));
        }
    }
}

/// <summary>Values of the <see cref="WorkerMetrics.ReasonTag"/> tag.</summary>
internal static class DropReasons
{
    /// <summary>The gateway's stream ended or failed (the gateway stopped, died or the network broke).</summary>
    public const string StreamEnded = "stream_ended";

    /// <summary>The worker stopped reading or handling at the end of its drain (Worker:DrainTimeout).</summary>
    public const string WorkerStopping = "worker_stopping";

    /// <summary>A command sent outside a callback found the stream's command queue full.</summary>
    public const string QueueFull = "queue_full";

    /// <summary>A command larger than any message the gateway accepts.</summary>
    public const string TooLarge = "too_large";
}
