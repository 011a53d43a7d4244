using System.Diagnostics.Metrics;

namespace Push.Worker.Diagnostics;

/// <summary>The business worker's instruments (Meter "Push.Worker").</summary>
internal sealed class WorkerMetrics
{
    public const string MeterName = "Push.Worker";

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

    public WorkerMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(MeterName);
        _events = meter.CreateCounter<long>("push.worker.events", "{event}", "Connection events handled, by kind (connect, message, close).");
        _callbackDuration = meter.CreateHistogram("push.worker.callback.duration", "s", "Time spent in the application's callbacks, by kind.", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _callbackErrors = meter.CreateCounter<long>("push.worker.callback.errors", "{error}", "Callbacks that threw, by kind.");
        _commands = meter.CreateCounter<long>("push.worker.commands", "{command}", "Commands sent back to gateways.");
        _streams = meter.CreateUpDownCounter<long>("push.worker.gateway_streams.open", "{stream}", "Gateway streams currently attached.");
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

    public void StreamOpened() => _streams.Add(1);

    public void StreamClosed() => _streams.Add(-1);
}
