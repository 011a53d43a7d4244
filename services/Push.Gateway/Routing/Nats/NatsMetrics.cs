using System.Diagnostics.Metrics;

namespace Push.Gateway.Routing.Nats;

/// <summary>NATS routing's instruments (Meter "Push.Gateway", exported with the gateway's own).</summary>
internal sealed class NatsMetrics
{
    private readonly Counter<long> _published;
    private readonly Counter<long> _publishFailed;
    private readonly Counter<long> _received;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _disconnects;
    private long _publishedTotal;
    private long _failedTotal;
    private long _receivedTotal;

    public NatsMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(Diagnostics.GatewayMetrics.MeterName);
        _published = meter.CreateCounter<long>("push.gateway.routing.nats.published", "{message}", "Pushes published on NATS, one per target subject, by kind (group, uid, all, batch).");
        _publishFailed = meter.CreateCounter<long>("push.gateway.routing.nats.publish_failed", "{message}", "Publications that could not be handed to NATS, by reason (disconnected, timeout, error): the other gateways did not get them.");
        _received = meter.CreateCounter<long>("push.gateway.routing.nats.received", "{message}", "Publications received from NATS for this gateway's subscriptions, by kind.");
        _duplicates = meter.CreateCounter<long>("push.gateway.routing.nats.duplicates", "{message}", "Further copies of a multi-subject push, taken once by its push id.");
        _rejected = meter.CreateCounter<long>("push.gateway.routing.nats.rejected", "{message}", "Publications received that could not be delivered, by reason (malformed, invalid).");
        _disconnects = meter.CreateCounter<long>("push.gateway.routing.nats.disconnects", "{event}", "Losses of the NATS connection: publications for this gateway's subjects sent while it was away are lost.");
        meter.CreateObservableGauge("push.gateway.routing.nats.connected", () => Connected() ? 1 : 0, "{connection}", "1 while the NATS connection is open.");
        meter.CreateObservableGauge("push.gateway.routing.nats.subscriptions", () => Subscriptions(), "{subscription}", "Subjects this gateway subscribes to (its groups and uids, plus PREFIX.all).");
    }

    /// <summary>Set by <see cref="NatsRouting"/>.</summary>
    public Func<bool> Connected { get; set; } = () => false;

    /// <summary>Set by <see cref="NatsRouting"/>.</summary>
    public Func<int> Subscriptions { get; set; } = () => 0;

    public long PublishedTotal => Interlocked.Read(ref _publishedTotal);

    public long FailedTotal => Interlocked.Read(ref _failedTotal);

    public long ReceivedTotal => Interlocked.Read(ref _receivedTotal);

    public void Published(string kind)
    {
        Interlocked.Increment(ref _publishedTotal);
        _published.Add(1, new KeyValuePair<string, object?>("kind", kind));
    }

    public void PublishFailed(string reason, int count = 1)
    {
        Interlocked.Add(ref _failedTotal, count);
        _publishFailed.Add(count, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Received(string kind)
    {
        Interlocked.Increment(ref _receivedTotal);
        _received.Add(1, new KeyValuePair<string, object?>("kind", kind));
    }

    public void Duplicate() => _duplicates.Add(1);

    public void Rejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Disconnected() => _disconnects.Add(1);

    public static string Kind(RoutedKind kind) => kind switch
    {
        RoutedKind.Group => "group",
        RoutedKind.Uid => "uid",
        RoutedKind.All => "all",
        _ => "batch",
    };
}
