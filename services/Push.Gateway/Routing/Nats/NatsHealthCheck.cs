using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Push.Gateway.Routing.Nats;

/// <summary>
/// Part of /healthz/ready (tag "ready"): with Cluster:Routing=nats the gateway is not ready while its NATS connection is
/// down or not yet confirmed, since pushes through it would then reach only its own clients and pushes for its
/// clients from other gateways would not arrive. Healthy (and silent) in mesh mode.
/// </summary>
internal sealed class NatsHealthCheck(IOptions<NatsRoutingOptions> options, IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!options.Value.IsNats)
        {
            return Task.FromResult(HealthCheckResult.Healthy());
        }
        var nats = services.GetRequiredService<NatsRouting>();
        return Task.FromResult(nats.Ready
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"NATS routing: the connection to {nats.Urls} is {nats.State.ToString().ToLowerInvariant()}: pushes would not reach other gateways"));
    }
}
