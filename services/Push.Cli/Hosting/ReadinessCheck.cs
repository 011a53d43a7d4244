using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Push.Gateway;
using Push.Hosting;
using Push.Hosting.Cluster;

namespace Push.Cli.Hosting;

/// <summary>
/// SERVING only when the process can do its job: a gateway or worker is registered with a live registry (a gateway
/// that is draining is not ready); a registry is ready once it listens. A gateway with no worker is reported
/// Degraded (still ready: its clients stay connected, but their events are dropped); a gateway that knows live
/// workers but has no open stream to any of them yet is not ready.
/// </summary>
internal sealed class ReadinessCheck(RoleSet roles, IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var membership = services.GetRequiredService<ClusterMembership>();
        var locals = services.GetServices<LocalMember>().ToArray();
        var address = services.GetRequiredService<AdvertisedAddress>().Value;
        if (address is null)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("not listening yet"));
        }
        var cluster = services.GetRequiredService<IOptions<ClusterOptions>>().Value;
        if (locals.Length > 0 && (cluster.Registry.Count > 0 || cluster.UseOwnAddressAsRegistry))
        {
            foreach (var local in locals)
            {
                if (!membership.Members.Any(m => m.Id == local.Id))
                {
                    return Task.FromResult(HealthCheckResult.Unhealthy($"{local.Role} {local.Id} is not registered with any registry yet"));
                }
            }
        }
        if (roles.Roles.HasFlag(PushHost.Roles.Gateway))
        {
            var identity = services.GetRequiredService<GatewayIdentity>();
            if (identity.Draining)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("gateway is draining"));
            }
            if (services.GetRequiredService<Push.Gateway.Workers.WorkerRouter>().OpenCount == 0)
            {
                return Task.FromResult(HealthCheckResult.Degraded("no business worker stream is open: clients stay connected, their events are dropped"));
            }
            if (services.GetRequiredService<Push.Gateway.Workers.WorkerRouter>().OpenCount == 0)
            {
                // Workers are registered but no stream to them is open (just started, or they are failing): a client
                // accepted now would have its connect event dropped.
                return Task.FromResult(HealthCheckResult.Unhealthy($"no stream to any of the {membership.Workers.Count} live worker(s) is open yet"));
            }
        }
        return Task.FromResult(HealthCheckResult.Healthy());
    }
}
