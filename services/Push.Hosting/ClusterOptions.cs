using System.ComponentModel.DataAnnotations;

namespace Push.Hosting;

/// <summary>Settings every role shares: where the registries are, how to authenticate internal calls.</summary>
internal sealed class ClusterOptions
{
    public const string SectionName = "Cluster";

    /// <summary>Registry gRPC addresses (GatewayWorker's registerAddress array). Env: PUSH_REGISTRY (comma separated).</summary>
    public List<string> Registry { get; set; } = [];

    /// <summary>Address this process registers for others to reach its gRPC port, e.g. http://10.0.0.5:8283.
    /// Defaults to the bound gRPC endpoint. Env: PUSH_ADVERTISE.</summary>
    public string? Advertise { get; set; }

    /// <summary>Member credential: required of cluster members (registry writes, worker streams, peer-gateway calls, Drain)
    /// and accepted for the control API too. Comma-separated values are all accepted (rotation); the first is sent.
    /// Empty (and no <see cref="ControlSecret"/>): no authentication. Env: PUSH_SECRET.</summary>
    public string? Secret { get; set; }

    /// <summary>Backend credential: grants the control API (push.v1.GatewayService) only, never member scope.
    /// Comma-separated values are all accepted (rotation). Env: PUSH_CONTROL_SECRET.</summary>
    public string? ControlSecret { get; set; }

    /// <summary>The accepted member secrets.</summary>
    internal Security.SecretList MemberSecrets => Security.SecretList.Parse(Secret);

    /// <summary>The accepted control secrets.</summary>
    internal Security.SecretList ControlSecrets => Security.SecretList.Parse(ControlSecret);

    /// <summary>The member secret this process sends on its own calls (the first configured value), or null.</summary>
    internal string? OutgoingSecret => MemberSecrets.Current;

    /// <summary>PEM bundle of the CA certificates that https:// gRPC peers (registries, gateways, workers) must chain to.
    /// Empty: the system trust store. Defaults to --grpc-client-ca when that is set.</summary>
    public string? TlsCa { get; set; }

    /// <summary>PEM certificate this process presents when it calls https:// peers that require client certificates (mTLS).
    /// Defaults to --grpc-tls-cert when --grpc-client-ca is set.</summary>
    public string? TlsClientCert { get; set; }

    /// <summary>PEM private key of <see cref="TlsClientCert"/> (empty: the key is in the certificate file).</summary>
    public string? TlsClientKey { get; set; }

    /// <summary>Lease time to live requested from the registry. Defaults to 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Set by `push start`: register with this process's own embedded registry.</summary>
    internal bool UseOwnAddressAsRegistry { get; set; }

    /// <summary>Deadline for a call to a peer gateway during a cluster-wide operation. Defaults to 2 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan PeerTimeout { get; set; } = TimeSpan.FromSeconds(2);
}
