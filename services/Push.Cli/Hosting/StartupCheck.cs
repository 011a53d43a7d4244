using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Push.Cli.Hosting;

/// <summary>
/// /healthz/startup (a Kubernetes startupProbe): Healthy from the first time the process listens and every role in it
/// is registered (a registry: once it listens), and from then on for the life of the process. Until then the
/// readiness and liveness probes need not run, so a normal start (a gateway waiting for its first worker stream, the
/// all-in-one waiting for its own worker) fails no probe.
/// </summary>
internal sealed class StartupCheck(IServiceProvider services) : IHealthCheck
{
    private volatile bool _started;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!_started)
        {
            if (ReadinessCheck.NotRegistered(services) is { } reason)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy(reason));
            }
            _started = true;
        }
        return Task.FromResult(HealthCheckResult.Healthy());
    }
}
