using System.Diagnostics.Metrics;

namespace Push.Gateway.Diagnostics;

/// <summary>The gateway's instruments (Meter "Push.Gateway").</summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = "Push.Gateway";

    /// <summary>
    /// Bucket boundaries of the push duration, in seconds (100 µs to 10 s). Without this advice the exporters use
    /// their default boundaries, which are sized for milliseconds (0, 5, 10, 25...): every push fell into le="5".
    /// </summary>
    internal static readonly IReadOnlyList<double> DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Bucket boundaries of the fan-out (connections per push): single-client pushes get their own bucket.</summary>
    internal static readonly IReadOnlyList<long> FanoutBuckets = [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000];

    /// <summary>Spans of the gateway (client messages handed to workers).</summary>
    public static readonly System.Diagnostics.ActivitySource Source = new(MeterName);

    private readonly UpDownCounter<long> _active;
    private readonly Counter<long> _opened;
    private readonly Counter<long> _closed;
    private readonly Counter<long> _receivedBytes;
    private readonly Counter<long> _sentBytes;
    private readonly Counter<long> _pushes;
    private readonly Histogram<long> _fanout;
    private readonly Histogram<double> _pushDuration;
    private readonly Counter<long> _eventsDropped;
    private readonly Counter<long> _handshakeRejected;
    private readonly Counter<long> _tokenKeyReloads;
    private readonly Counter<long> _pushUndelivered;
    private readonly Counter<long> _workerCommandsDropped;
    private readonly Counter<long> _workerAcksIgnored;

    // Totals for GetStatus (cheap, process-wide).
    public long MessagesIn;
    public long MessagesOut;

    /// <summary>Flushes that wrote at least one message (messages per write tells how well fan-outs coalesce).</summary>
    public long Writes;
    public long MessagesDropped;
    public long EventsRedelivered;
    private long _sendQueueDropped;
    private long _sendQueuePeakBytes;

    public GatewayMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(MeterName);
        _active = meter.CreateUpDownCounter<long>("push.gateway.connections.active", "{connection}", "Connected WebSocket clients.");
        _opened = meter.CreateCounter<long>("push.gateway.connections.opened", "{connection}", "WebSocket connections accepted.");
        _closed = meter.CreateCounter<long>("push.gateway.connections.closed", "{connection}", "WebSocket connections closed, by reason.");
        // Message and drop counts are observed from the totals above: they are exported (as 0) from the start,
        // not only after the first message or the first drop, so dashboards and alerts see the series at once.
        meter.CreateObservableCounter("push.gateway.messages.received", () => Interlocked.Read(ref MessagesIn), "{message}", "Messages received from clients.");
        _receivedBytes = meter.CreateCounter<long>("push.gateway.bytes.received", "By", "Payload bytes received from clients.");
        meter.CreateObservableCounter("push.gateway.messages.sent", () => Interlocked.Read(ref MessagesOut), "{message}", "Messages written to clients.");
        meter.CreateObservableCounter("push.gateway.writes", () => Interlocked.Read(ref Writes), "{write}", "Writes (flushes) of messages to client connections: messages.sent ÷ writes is how many messages one write carried.");
        _sentBytes = meter.CreateCounter<long>("push.gateway.bytes.sent", "By", "Frame bytes written to clients.");
        meter.CreateObservableCounter("push.gateway.send_queue.dropped", () => Interlocked.Read(ref _sendQueueDropped), "{message}", "Messages dropped because a client's send queue was full.");
        _pushes = meter.CreateCounter<long>("push.gateway.pushes", "{push}", "Control API pushes handled, by kind (client, clients, uid, group, all, batch).");
        _fanout = meter.CreateHistogram("push.gateway.push.fanout", "{connection}", "Connections one push was handed to on this gateway.", tags: null, new InstrumentAdvice<long> { HistogramBucketBoundaries = FanoutBuckets });
        _pushDuration = meter.CreateHistogram("push.gateway.push.duration", "s", "Time to hand a push to every target connection of the cluster.", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _eventsDropped = meter.CreateCounter<long>("push.gateway.worker_events.dropped", "{event}", "Connection events that could not be handed to any worker.");
        _handshakeRejected = meter.CreateCounter<long>("push.gateway.handshakes.rejected", "{handshake}", "WebSocket handshakes refused, by reason.");
        _tokenKeyReloads = meter.CreateCounter<long>("push.gateway.token_keys.reloads", "{reload}", "Changes of the handshake token key files, by result (reloaded, failed: the previous keys stay).");
        meter.CreateObservableGauge("push.gateway.send_queue.depth", () => SendQueueDepth(), "{message}", "Messages queued towards clients, summed over connections.");
        meter.CreateObservableGauge("push.gateway.send_queue.max_depth", () => SendQueueMaxDepth(), "{message}", "Deepest client send queue right now.");
        meter.CreateObservableGauge("push.gateway.send_queue.bytes", () => SendQueueBytes(), "By", "Frame bytes queued towards clients, summed over connections.");
        meter.CreateObservableGauge("push.gateway.send_queue.max_bytes", () => SendQueueMaxBytes(), "By", "Frame bytes queued towards the most backed-up client right now (bounded by Gateway:SendQueueBytes).");
        meter.CreateObservableGauge("push.gateway.send_queue.peak_bytes", () => SendQueuePeakBytes, "By", "Most frame bytes one client's send queue has held since start.");
        meter.CreateObservableGauge("push.gateway.worker_streams.open", () => OpenWorkerStreams(), "{stream}", "Worker streams this gateway has open.");
        _pushUndelivered = meter.CreateCounter<long>("push.gateway.pushes.undelivered", "{connection}", "Target connections a push could not be queued to, by reason (send_queue_full: the client was closed 4001; closing).");
        _workerCommandsDropped = meter.CreateCounter<long>("push.gateway.worker_commands.dropped", "{command}", "Worker commands the gateway did not apply, by reason.");
        meter.CreateObservableCounter("push.gateway.worker_events.redelivered", () => Interlocked.Read(ref EventsRedelivered), "{event}", "Events a worker stream ended without acknowledging, sent again (flagged redelivered) to the connections' next workers.");
        _workerAcksIgnored = meter.CreateCounter<long>("push.gateway.worker_acks.ignored", "{ack}", "Worker acknowledgements the gateway ignored, by reason (beyond_written: it counted more events than were written on the stream).");
        meter.CreateObservableGauge("push.gateway.worker_queue.bytes", WorkerQueueBytes, "By", "Bytes of events held for each worker: queued, being written, or written and not acknowledged yet (bounded by Gateway:WorkerQueueBytes).");
        meter.CreateObservableGauge("push.gateway.worker_queue.waiting", WorkerQueueWaiting, "{event}", "Events waiting for room in a worker link (their connections' reads wait meanwhile).");
    }

    public Func<long> SendQueueDepth { get; set; } = static () => 0;
    public Func<long> SendQueueMaxDepth { get; set; } = static () => 0;
    public Func<long> SendQueueBytes { get; set; } = static () => 0;
    public Func<long> SendQueueMaxBytes { get; set; } = static () => 0;
    public Func<int> OpenWorkerStreams { get; set; } = static () => 0;
    public Func<IReadOnlyList<Workers.WorkerLink>> WorkerQueues { get; set; } = static () => [];

    private IEnumerable<Measurement<long>> WorkerQueueBytes()
        => WorkerQueues().Select(static l => new Measurement<long>(l.Queue.Bytes, new KeyValuePair<string, object?>("push.worker_id", l.WorkerId)));

    private IEnumerable<Measurement<int>> WorkerQueueWaiting()
        => WorkerQueues().Select(static l => new Measurement<int>(l.Queue.WaitingCount, new KeyValuePair<string, object?>("push.worker_id", l.WorkerId)));

    /// <summary>Most frame bytes one connection's send queue has held since start.</summary>
    public long SendQueuePeakBytes => Volatile.Read(ref _sendQueuePeakBytes);

    public void ConnectionOpened()
    {
        _active.Add(1);
        _opened.Add(1);
    }

    public void ConnectionClosed(string reason)
    {
        _active.Add(-1);
        _closed.Add(1, new KeyValuePair<string, object?>("push.close_reason", reason));
    }

    public void MessageReceived(int bytes)
    {
        Interlocked.Increment(ref MessagesIn);
        _receivedBytes.Add(bytes);
    }

    public void MessagesSent(int count, long bytes)
    {
        Interlocked.Increment(ref Writes);
        Interlocked.Add(ref MessagesOut, count);
        _sentBytes.Add(bytes);
    }

    public void Dropped(int count)
    {
        Interlocked.Add(ref MessagesDropped, count);
        Interlocked.Add(ref _sendQueueDropped, count);
    }

    /// <summary>A connection's queue now holds <paramref name="queuedBytes"/>: raises the peak (written only when exceeded).</summary>
    public void QueuedBytesReached(long queuedBytes)
    {
        var peak = Volatile.Read(ref _sendQueuePeakBytes);
        while (queuedBytes > peak)
        {
            var seen = Interlocked.CompareExchange(ref _sendQueuePeakBytes, queuedBytes, peak);
            if (seen == peak)
            {
                return;
            }
            peak = seen;
        }
    }

    public void Push(string kind, long fanout)
    {
        var tag = new KeyValuePair<string, object?>("push.target", kind);
        _pushes.Add(1, tag);
        _fanout.Record(fanout, tag);
    }

    public void PushDuration(string kind, double seconds)
        => _pushDuration.Record(seconds, new KeyValuePair<string, object?>("push.target", kind));

    public void EventDropped(string reason)
    {
        Interlocked.Increment(ref MessagesDropped);
        _eventsDropped.Add(1, new KeyValuePair<string, object?>("push.reason", reason));
    }

    public void TokenKeysReload(string result) => _tokenKeyReloads.Add(1, new KeyValuePair<string, object?>("push.result", result));

    /// <summary>Target connections of a push that could not be queued (a full queue is also counted in send_queue.dropped).</summary>
    public void PushUndelivered(string reason, int count = 1)
        => _pushUndelivered.Add(count, new KeyValuePair<string, object?>("push.reason", reason));

    /// <summary>Events handed to another worker after the stream they were written on ended unacknowledged.</summary>
    public void EventsRedeliveredAdd(int count) => Interlocked.Add(ref EventsRedelivered, count);

    public void WorkerAckIgnored(string reason) => _workerAcksIgnored.Add(1, new KeyValuePair<string, object?>("push.reason", reason));

    public void WorkerCommandDropped(string reason)
    {
        Interlocked.Increment(ref MessagesDropped);
        _workerCommandsDropped.Add(1, new KeyValuePair<string, object?>("push.reason", reason));
    }

    public void HandshakeRejected(string reason)
        => _handshakeRejected.Add(1, new KeyValuePair<string, object?>("push.reason", reason));
}
