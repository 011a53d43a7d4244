using System.Diagnostics.Metrics;

namespace Push.Gateway.Routing;

/// <summary>
/// Instruments of the interest routing (Meter "Push.Gateway"): for each peer gateway a group or uid push or query
/// could go to, whether it was asked because it hosts members (asked), asked because its view here is stale (stale)
/// or not asked (skipped); syncs of joins that waited for a lease to run out.
/// </summary>
internal sealed class RoutingMetrics
{
    private static readonly KeyValuePair<string, object?> Asked = new("push.decision", "asked");
    private static readonly KeyValuePair<string, object?> Stale = new("push.decision", "stale");
    private static readonly KeyValuePair<string, object?> Skipped = new("push.decision", "skipped");
    private readonly Counter<long> _decisions;
    private readonly Counter<long> _leaseWaits;
    private readonly Meter _meter;

    public RoutingMetrics(IMeterFactory meters)
    {
        var meter = _meter = meters.Create(Diagnostics.GatewayMetrics.MeterName);
        _decisions = meter.CreateCounter<long>("push.gateway.routing.peer_decisions", "{gateway}",
            "Peer gateways a group or uid push or query was (asked, stale: view not in sync) or was not (skipped: no members there) sent to.");
        _leaseWaits = meter.CreateCounter<long>("push.gateway.routing.lease_waits", "{call}",
            "Joins whose interest sync waited for a peer's lease to run out (the peer did not acknowledge in time).");
    }

    /// <summary>Set by the routing: how many peers' views are in sync now.</summary>
    public void ObservePeersInSync(Func<int> inSync, string mode)
        => _meter.CreateObservableGauge("push.gateway.routing.peers_in_sync", () => new Measurement<int>(inSync(), new KeyValuePair<string, object?>("push.routing", mode)),
            "{gateway}", "Peer gateways whose interest view here is in sync (the others get every group and uid push).");

    public void Decision(bool? hosts)
        => _decisions.Add(1, hosts switch { true => Asked, false => Skipped, null => Stale });

    /// <summary>The decisions of one push about all its peers.</summary>
    public void Decisions(int asked, int skipped, int stale)
    {
        if (asked > 0)
        {
            _decisions.Add(asked, Asked);
        }
        if (skipped > 0)
        {
            _decisions.Add(skipped, Skipped);
        }
        if (stale > 0)
        {
            _decisions.Add(stale, Stale);
        }
    }

    public void LeaseWaited() => _leaseWaits.Add(1);
}
