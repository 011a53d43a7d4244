using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Push.Gateway;
using Push.Gateway.Hosting;
using Push.Gateway.Workers;
using Push.Hosting;
using Push.Hosting.Cluster;

namespace Push.Cli.Hosting;

/// <summary>
/// /healthz/ready and grpc.health.v1: ready (200, SERVING) only when the process can do its job now.
/// <list type="bullet">
/// <item>Every role: Unhealthy until it listens; a gateway or worker also until it is registered with a registry that
/// answers (it is not in its own membership view).</item>
/// <item>Gateway: Unhealthy while draining, and while no worker stream is open, whether workers are known (just
/// started, or the known workers cannot be reached) or none is (a client accepted then would have every event
/// dropped). Degraded (still ready) while streams are open to some but not all of the known workers.</item>
/// </list>
/// Start-up is covered by <see cref="StartupCheck"/> (/healthz/startup), so a normal start does not fail probes.
/// See docs/reliability.md ("Health").
/// </summary>
internal sealed class ReadinessCheck(RoleSet roles, IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        => Task.FromResult(Check());

    private HealthCheckResult Check()
    {
        if (NotRegistered(services) is { } reason)
        {
            return HealthCheckResult.Unhealthy(reason);
        }
        if (!roles.Roles.HasFlag(PushHost.Roles.Gateway))
        {
            return HealthCheckResult.Healthy();
        }
        return GatewayReadiness.Evaluate(
            draining: services.GetRequiredService<GatewayIdentity>().Draining,
            knownWorkers: services.GetRequiredService<ClusterMembership>().Workers.Count,
            openStreams: services.GetRequiredService<WorkerRouter>().OpenCount);
    }

    /// <summary>Why the process is not listening or not registered yet; null once it is (shared with <see cref="StartupCheck"/>).</summary>
    public static string? NotRegistered(IServiceProvider services)
    {
        if (services.GetRequiredService<AdvertisedAddress>().Value is null)
        {
            return "not listening yet";
        }
        var cluster = services.GetRequiredService<IOptions<ClusterOptions>>().Value;
        if (cluster.Registry.Count == 0 && !cluster.UseOwnAddressAsRegistry)
        {
            return null;
        }
        var members = services.GetRequiredService<ClusterMembership>().Members;
        foreach (var local in services.GetServices<LocalMember>())
        {
            if (!members.Any(m => m.Id == local.Id))
            {
                return $"{local.Role} {local.Id} is not registered with any registry";
            }
        }
        return null;
    }
}
