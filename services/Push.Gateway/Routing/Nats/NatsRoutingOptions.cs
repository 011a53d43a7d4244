namespace Push.Gateway.Routing.Nats;

/// <summary>
/// NATS routing settings, in the "Cluster" section next to Cluster:Routing (bound here so that NATS routing adds no
/// field to <c>ClusterOptions</c>).
/// </summary>
internal sealed class NatsRoutingOptions
{
    /// <summary>"mesh" (default) or "nats".</summary>
    public string Routing { get; set; } = "mesh";

    /// <summary>NATS server URL(s), comma-separated (nats://host:4222,nats://host2:4222). Required when Routing=nats.</summary>
    public string? NatsUrl { get; set; }

    /// <summary>First tokens of every subject (push.v1 by default): clusters sharing one NATS use different prefixes.</summary>
    public string NatsSubjectPrefix { get; set; } = NatsSubjects.DefaultPrefix;

    /// <summary>Longest wait of a publish that met a connection loss (NatsOpts.CommandTimeout). Defaults to 1 second.</summary>
    public TimeSpan NatsPublishTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>First wait between reconnect attempts; it doubles up to 2 s. Defaults to 100 ms.</summary>
    public TimeSpan NatsReconnectWait { get; set; } = TimeSpan.FromMilliseconds(100);

    public bool IsNats => string.Equals(Routing, "nats", StringComparison.OrdinalIgnoreCase);

    /// <summary>The NATS settings' problems when Routing=nats, one line each (empty when valid or in mesh mode).</summary>
    public IEnumerable<string> Errors()
    {
        // Cluster:Routing itself is validated by the routing selection (RoutingOptions).
        if (!IsNats)
        {
            yield break;
        }
        if (string.IsNullOrWhiteSpace(NatsUrl))
        {
            yield return "Cluster:NatsUrl is required when Cluster:Routing=nats (e.g. nats://127.0.0.1:4222; several: comma-separated)";
        }
        else
        {
            foreach (var url in NatsUrl.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || u.Scheme is not ("nats" or "tls" or "ws" or "wss") || string.IsNullOrEmpty(u.Host))
                {
                    yield return $"Cluster:NatsUrl: '{url}' is not a nats://HOST:PORT URL";
                }
            }
        }
        if (!NatsSubjects.IsValidPrefix(NatsSubjectPrefix))
        {
            yield return $"Cluster:NatsSubjectPrefix '{NatsSubjectPrefix}' must be dot-separated tokens of letters, digits, '-' and '_' (at most 128 characters)";
        }
        if (NatsPublishTimeout < TimeSpan.FromMilliseconds(10) || NatsPublishTimeout > TimeSpan.FromMinutes(1))
        {
            yield return "Cluster:NatsPublishTimeout must be between 00:00:00.010 and 00:01:00";
        }
        if (NatsReconnectWait < TimeSpan.FromMilliseconds(10) || NatsReconnectWait > TimeSpan.FromMinutes(1))
        {
            yield return "Cluster:NatsReconnectWait must be between 00:00:00.010 and 00:01:00";
        }
    }
}
