namespace Push.Testing;

/// <summary>The credentials test processes run with by default (see <see cref="PushProcess.StartAsync"/>).</summary>
public static class TestSecrets
{
    /// <summary>Cluster:Secret of every test process: registry, gateways, workers, peer calls.</summary>
    public const string Member = "test-member-secret-0123456789abcdef";

    /// <summary>Cluster:ControlSecret: what the tests' backends (control clients) hold.</summary>
    public const string Control = "test-control-secret-0123456789abcdef";
}
