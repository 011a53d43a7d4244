namespace Push.Gateway.Routing;

/// <summary>
/// How cluster-wide group and uid pushes find the gateways with members (section "Cluster", beside ClusterOptions):
/// Cluster:Routing = mesh (default: interest kept between gateways over their internal gRPC API) | nats (per-group
/// and per-uid subjects on a NATS server, Cluster:NatsUrl).
/// </summary>
internal sealed class RoutingOptions
{
    public const string Mesh = "mesh";
    public const string Nats = "nats";

    /// <summary>mesh (default) or nats. Env: Cluster__Routing.</summary>
    public string Routing { get; set; } = Mesh;

    /// <summary>NATS server URL(s), comma-separated; required when <see cref="Routing"/> is nats.</summary>
    public string? NatsUrl { get; set; }

    /// <summary>
    /// Mesh: how long a peer may route by its view of this gateway's interest after it acknowledged it. A join that
    /// gives a group its first member here waits at most this long (plus a tenth) for a peer that stopped answering.
    /// </summary>
    public TimeSpan InterestLease { get; set; } = TimeSpan.FromSeconds(3);

    public bool IsMesh => string.Equals(Routing, Mesh, StringComparison.OrdinalIgnoreCase);

    public bool IsNats => string.Equals(Routing, Nats, StringComparison.OrdinalIgnoreCase);

    /// <summary>Why these options cannot start a gateway, or null.</summary>
    public string? Problem()
    {
        if (!IsMesh && !IsNats)
        {
            return $"Cluster:Routing must be mesh or nats, not '{Routing}'";
        }
        if (IsNats && string.IsNullOrWhiteSpace(NatsUrl))
        {
            return "Cluster:NatsUrl must name the NATS server(s) (nats://HOST:PORT, comma-separated) when Cluster:Routing is nats";
        }
        if (InterestLease < TimeSpan.FromMilliseconds(500) || InterestLease > TimeSpan.FromMinutes(1))
        {
            return "Cluster:InterestLease must be between 00:00:00.500 and 00:01:00";
        }
        return null;
    }
}
