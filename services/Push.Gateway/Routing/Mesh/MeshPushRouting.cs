using Grpc.Core;
using Microsoft.Extensions.Options;
using Push.Gateway.Control;
using Push.V1;

namespace Push.Gateway.Routing.Mesh;

/// <summary>
/// The built-in interest routing (Cluster:Routing=mesh): this gateway's interest goes to every peer over
/// push.v1.InterestService (<see cref="LocalInterestLog"/>, served by <see cref="InterestGrpcService"/>); the peers'
/// interest comes in over the streams <see cref="MeshInterestClient"/> keeps. A group or uid push goes to the peers
/// that host members of it, and to every peer whose view here is stale; a push to everyone goes to every peer.
/// </summary>
internal sealed class MeshPushRouting : IPushRouting, IInterestView
{
    private readonly PeerScatter _scatter;
    private readonly MeshInterestClient _client;
    private readonly RoutingMetrics _metrics;

    public MeshPushRouting(PeerScatter scatter, MeshInterestClient client, RoutingMetrics metrics, IOptions<RoutingOptions> options, TimeProvider time)
    {
        _scatter = scatter;
        _client = client;
        _metrics = metrics;
        Log = new LocalInterestLog(time, options.Value.InterestLease) { LeaseWaited = metrics.LeaseWaited };
        metrics.ObservePeersInSync(() => _client.PeersInSync, Mode);
    }

    public string Mode => RoutingOptions.Mesh;

    /// <summary>This gateway's interest, as the Watch streams serve it.</summary>
    public LocalInterestLog Log { get; }

    public void LocalInterest(InterestKind kind, string name, bool on) => Log.Apply(kind, name, on);

    public ValueTask SyncAsync(CancellationToken ct) => Log.SyncAsync(ct);

    public bool MayHost(string gatewayId, InterestKind? kind, IReadOnlyList<string> names)
    {
        var hosts = _client.View(gatewayId)?.Hosts(kind, names);
        _metrics.Decision(hosts);
        return hosts != false;
    }

    public async Task<(long Delivered, ClusterReach Reach)> SendAsync(RoutedPush push, ServerCallContext context, Func<long> local)
    {
        Func<string, bool>? mayHost = null;
        DecisionTally? tally = null;
        if (push.Kind != RoutedKind.All)
        {
            InterestKind? kind = push.Kind switch { RoutedKind.Group => InterestKind.Group, RoutedKind.Uid => InterestKind.Uid, _ => null };
            // Counted once per call and decision, not once per peer (the counter is the same).
            var t = tally = new DecisionTally();
            mayHost = id => t.Add(_client.View(id)?.Hosts(kind, push.Names));
        }
        // The scatter decides about every peer before its first await: the tally is complete when it returns its task.
        var sent = ScatterAsync(push, context, local, mayHost);
        if (tally is not null)
        {
            _metrics.Decisions(tally.Asked, tally.Skipped, tally.Stale);
        }
        return await sent.ConfigureAwait(false);
    }

    private async Task<(long Delivered, ClusterReach Reach)> ScatterAsync(RoutedPush push, ServerCallContext context, Func<long> local, Func<string, bool>? mayHost)
    {
        switch (push.Request)
        {
            case SendToGroupRequest r:
                {
                    var (results, reach) = await _scatter.ScatterAsync(context, () => new SendToGroupResponse { Delivered = local() }, (c, o) => c.SendToGroupAsync(r, o), null, mayHost).ConfigureAwait(false);
                    return (results.Sum(x => x.Delivered), reach);
                }
            case SendToUidRequest r:
                {
                    var (results, reach) = await _scatter.ScatterAsync(context, () => new SendToUidResponse { Delivered = local() }, (c, o) => c.SendToUidAsync(r, o), null, mayHost).ConfigureAwait(false);
                    return (results.Sum(x => x.Delivered), reach);
                }
            case SendBatchRequest r:
                {
                    var (results, reach) = await _scatter.ScatterAsync(context, () => new SendBatchResponse { Delivered = local() }, (c, o) => c.SendBatchAsync(r, o), null, mayHost).ConfigureAwait(false);
                    return (results.Sum(x => x.Delivered), reach);
                }
            case SendToAllRequest r:
                {
                    var (results, reach) = await _scatter.ScatterAsync(context, () => new SendToAllResponse { Delivered = local() }, (c, o) => c.SendToAllAsync(r, o)).ConfigureAwait(false);
                    return (results.Sum(x => x.Delivered), reach);
                }
            default:
                throw new ArgumentException($"the mesh routing does not forward {push.Request.Descriptor.FullName}", nameof(push));
        }
    }

    // Decisions of one call (the scatter makes them one after another, before its first await).
    private sealed class DecisionTally
    {
        public int Asked;
        public int Skipped;
        public int Stale;

        public bool Add(bool? hosts)
        {
            switch (hosts)
            {
                case true: Asked++; return true;
                case false: Skipped++; return false;
                default: Stale++; return true;
            }
        }
    }
}
