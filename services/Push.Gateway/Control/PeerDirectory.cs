using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Control;

/// <summary>The control clients of the other gateways (a seam: unit tests give the router clients without sockets).</summary>
internal interface IPeerClients
{
    GatewayService.GatewayServiceClient Get(Member gateway);

    /// <summary>The gateway's internal resume API (gateway-to-gateway handoffs), on the same channel.</summary>
    ResumeService.ResumeServiceClient GetResume(Member gateway);

    /// <summary>The gateway's internal interest API (mesh routing), on the same channel.</summary>
    InterestService.InterestServiceClient GetInterest(Member gateway) => throw new NotSupportedException("no interest client");
}

/// <summary>gRPC clients of the other gateways, one channel per address, dropped when the gateway leaves.</summary>
internal sealed class PeerDirectory : IPeerClients, IDisposable
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, (GrpcChannel Channel, GatewayService.GatewayServiceClient Client, ResumeService.ResumeServiceClient Resume, InterestService.InterestServiceClient Interest)> _peers = new(StringComparer.Ordinal);
    private readonly ClusterMembership _membership;
    private readonly ClusterOptions _cluster;

    public PeerDirectory(ClusterMembership membership, IOptions<ClusterOptions> options)
    {
        _membership = membership;
        _cluster = options.Value;
        membership.Changed += Prune;
    }

    public GatewayService.GatewayServiceClient Get(Member gateway) => Peer(gateway).Client;

    public ResumeService.ResumeServiceClient GetResume(Member gateway) => Peer(gateway).Resume;

    public InterestService.InterestServiceClient GetInterest(Member gateway) => Peer(gateway).Interest;

    private (GrpcChannel Channel, GatewayService.GatewayServiceClient Client, ResumeService.ResumeServiceClient Resume, InterestService.InterestServiceClient Interest) Peer(Member gateway)
    {
        lock (_sync)
        {
            if (!_peers.TryGetValue(gateway.Address, out var peer))
            {
                var channel = PushChannel.Create(gateway.Address, _cluster);
                var invoker = PushChannel.Invoker(channel, _cluster.Secret);
                peer = (channel, new GatewayService.GatewayServiceClient(invoker), new ResumeService.ResumeServiceClient(invoker), new InterestService.InterestServiceClient(invoker));
                _peers[gateway.Address] = peer;
            }
            return peer;
        }
    }

    private void Prune()
    {
        var live = _membership.Gateways.Select(g => g.Address).ToHashSet(StringComparer.Ordinal);
        lock (_sync)
        {
            foreach (var address in _peers.Keys.ToArray())
            {
                if (!live.Contains(address))
                {
                    _peers.Remove(address, out var gone);
                    gone.Channel.Dispose();
                }
            }
        }
    }

    public void Dispose()
    {
        _membership.Changed -= Prune;
        lock (_sync)
        {
            foreach (var p in _peers.Values)
            {
                p.Channel.Dispose();
            }
            _peers.Clear();
        }
    }
}
