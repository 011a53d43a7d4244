using Push.Hosting.Cluster;

namespace Push.Gateway;

/// <summary>This gateway process's instance id (random per start, 16 hex) and its draining state.</summary>
internal sealed class GatewayIdentity
{
    public string Id { get; } = LocalMember.NewId();

    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;

    public volatile bool Draining;
}
