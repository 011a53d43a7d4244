using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Push.Gateway.Hosting;

/// <summary>
/// Whether a registered gateway can serve clients now (the gateway part of /healthz/ready, docs/reliability.md
/// "Health"): not while draining, and not while no worker stream is open, whether workers are known (just started, or
/// none of them can be reached) or not (every event would be dropped). Degraded, still ready: streams are open to some
/// but not all of the known workers.
/// </summary>
internal static class GatewayReadiness
{
    public static HealthCheckResult Evaluate(bool draining, int knownWorkers, int openStreams)
    {
        if (draining)
        {
            return HealthCheckResult.Unhealthy("gateway is draining");
        }
        if (openStreams == 0)
        {
            return HealthCheckResult.Unhealthy(knownWorkers == 0
                ? "no business worker is registered: clients would stay connected but every event would be dropped"
                : $"no stream to any of the {knownWorkers} live worker(s) is open: clients would have their events dropped");
        }
        return openStreams < knownWorkers
            ? HealthCheckResult.Degraded($"worker streams open to {openStreams} of {knownWorkers} live workers")
            : HealthCheckResult.Healthy();
    }
}
