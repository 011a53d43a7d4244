using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Gateway.Control;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Routing.Mesh;

/// <summary>
/// Keeps one Watch stream open to every other live gateway and a <see cref="PeerInterestView"/> of each: acknowledges
/// what it applied (at once, and every half lease to keep the lease), drops a gateway's view when the membership
/// drops it, and rebuilds a view from a new snapshot after any failure (stale meanwhile: that gateway gets every push).
/// </summary>
internal sealed partial class MeshInterestClient : IHostedService, IDisposable
{
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<string, (PeerInterestView View, CancellationTokenSource Stop, Task Loop)> _peers = new(StringComparer.Ordinal);
    private readonly GatewayIdentity _identity;
    private readonly ClusterMembership _membership;
    private readonly IPeerClients _clients;
    private readonly PeerFailures _failures;
    private readonly RoutingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<MeshInterestClient> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _sync = new();
    private bool _started;
    private int _disposed;

    public MeshInterestClient(GatewayIdentity identity, ClusterMembership membership, IPeerClients clients, PeerFailures failures, IOptions<RoutingOptions> options, TimeProvider time, ILogger<MeshInterestClient> logger)
    {
        _identity = identity;
        _membership = membership;
        _clients = clients;
        _failures = failures;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>The view of <paramref name="gatewayId"/>, or null when there is none (not a live peer yet).</summary>
    public PeerInterestView? View(string gatewayId) => _peers.TryGetValue(gatewayId, out var p) ? p.View : null;

    public int PeersInSync => _peers.Values.Count(p => p.View.InSync);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.IsMesh)
        {
            return Task.CompletedTask;
        }
        lock (_sync)
        {
            _started = true;
        }
        Log.Started(_logger, _options.InterestLease.TotalSeconds);
        _membership.Changed += Reconcile;
        Reconcile();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _membership.Changed -= Reconcile;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_peers.Values.Select(p => p.Loop)).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Reconcile()
    {
        lock (_sync)
        {
            if (!_started || _stopping.IsCancellationRequested)
            {
                return;
            }
            var live = new HashSet<string>(StringComparer.Ordinal);
            foreach (var g in _membership.Gateways)
            {
                if (string.Equals(g.Id, _identity.Id, StringComparison.Ordinal))
                {
                    continue;
                }
                live.Add(g.Id);
                if (!_peers.ContainsKey(g.Id))
                {
                    var view = new PeerInterestView(g.Id, _time);
                    var stop = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                    _peers[g.Id] = (view, stop, Task.Run(() => RunAsync(g.Id, view, stop.Token)));
                }
            }
            foreach (var (id, peer) in _peers)
            {
                if (!live.Contains(id))
                {
                    // Gone from the membership: its interest goes with it (a restarted gateway has a new id).
                    _peers.TryRemove(id, out _);
                    peer.View.Invalidate();
                    peer.Stop.Cancel();
                    peer.Stop.Dispose();
                }
            }
        }
    }

    private async Task RunAsync(string peerId, PeerInterestView view, CancellationToken ct)
    {
        var backoff = MinBackoff;
        while (!ct.IsCancellationRequested)
        {
            var member = _membership.FindGateway(peerId);
            if (member is null)
            {
                return;
            }
            var synced = false;
            try
            {
                synced = await WatchAsync(member, view, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RpcException or OperationCanceledException or IOException or HttpRequestException or InvalidOperationException or ObjectDisposedException)
            {
                if (!ct.IsCancellationRequested)
                {
                    _failures.Record(peerId, "/push.v1.InterestService/Watch", ex);
                }
            }
            finally
            {
                view.Invalidate();
            }
            if (ct.IsCancellationRequested)
            {
                return;
            }
            backoff = synced ? MinBackoff : TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
            try
            {
                await Task.Delay(backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(50)), _time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // One stream: true when it got in sync before it ended.
    private async Task<bool> WatchAsync(Member member, PeerInterestView view, CancellationToken ct)
    {
        using var call = _clients.GetInterest(member).Watch(new CallOptions(new Metadata { { ClusterRouter.ScopeHeader, "local" } }, cancellationToken: ct));
        await call.RequestStream.WriteAsync(new WatchRequest { GatewayId = _identity.Id }, ct).ConfigureAwait(false);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var ackNow = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        var writer = WriteAcksAsync(call.RequestStream, view, ackNow.Reader, done.Token);
        var synced = false;
        try
        {
            await foreach (var m in call.ResponseStream.ReadAllAsync(done.Token).ConfigureAwait(false))
            {
                var ok = m.KindCase switch
                {
                    WatchResponse.KindOneofCase.Snapshot => view.ApplySnapshot(m.Snapshot),
                    WatchResponse.KindOneofCase.Changes => view.ApplyChanges(m.Changes),
                    WatchResponse.KindOneofCase.Grant => view.ApplyGrant(m.Grant),
                    _ => false,
                };
                if (!ok)
                {
                    Log.OutOfSync(_logger, member.Id, m.KindCase.ToString());
                    return synced;
                }
                if (m.KindCase == WatchResponse.KindOneofCase.Grant)
                {
                    if (!synced)
                    {
                        synced = true;
                        Log.InSync(_logger, member.Id, view.Version);
                    }
                }
                else if (m.KindCase == WatchResponse.KindOneofCase.Changes || m.Snapshot.Last)
                {
                    ackNow.Writer.TryWrite(true); // what was applied is acknowledged at once (a join there waits for it)
                }
            }
            return synced;
        }
        finally
        {
            view.Invalidate(); // before anything else can happen: never route by a view of a stream that ended
            await done.CancelAsync().ConfigureAwait(false);
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException or InvalidOperationException)
            {
                // the stream is gone: the acknowledgements with it
            }
        }
    }

    private async Task WriteAcksAsync(IClientStreamWriter<WatchRequest> output, PeerInterestView view, ChannelReader<bool> ackNow, CancellationToken ct)
    {
        // Every half lease: a renewal's grant may come up to half a lease late before the view goes stale (which only
        // costs pushes to that gateway). Not more often: every renewal is an acknowledgement and a grant on every
        // peer pair, i.e. wake-ups of two idle processes (docs/routing.md "Idle cost").
        var renew = _options.InterestLease / 2;
        while (!ct.IsCancellationRequested)
        {
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                var signal = ackNow.WaitToReadAsync(wait.Token).AsTask();
                await Task.WhenAny(signal, Task.Delay(renew, _time, wait.Token)).ConfigureAwait(false);
                await wait.CancelAsync().ConfigureAwait(false);
            }
            ct.ThrowIfCancellationRequested();
            ackNow.TryRead(out _);
            if (view.NextAck(_identity.Id) is { } ack)
            {
                await output.WriteAsync(ack, ct).ConfigureAwait(false);
            }
        }
    }

    // Registered as itself and as a hosted service (the same instance): disposed twice.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stopping.Cancel();
            _stopping.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3310, LogLevel.Information, "Cluster routing: mesh (Cluster:Routing). Group and uid pushes go to the gateways with members; interest lease {LeaseSeconds} s.", EventName = "MeshRouting")]
        public static partial void Started(ILogger logger, double leaseSeconds);

        [LoggerMessage(3311, LogLevel.Information, "Interest of gateway {PeerId} in sync at version {Version}: group and uid pushes go there only for its members.", EventName = "InterestInSync")]
        public static partial void InSync(ILogger logger, string peerId, long version);

        [LoggerMessage(3312, LogLevel.Warning, "Interest stream of gateway {PeerId} out of sync ({What} out of place): it gets every push until a new snapshot.", EventName = "InterestOutOfSync")]
        public static partial void OutOfSync(ILogger logger, string peerId, string what);
    }
}
