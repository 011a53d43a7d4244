using Microsoft.Extensions.Diagnostics.HealthChecks;
using Push.Gateway.Hosting;

namespace Push.UnitTests;

/// <summary>The gateway part of /healthz/ready (docs/reliability.md, "Health").</summary>
public sealed class GatewayReadinessTests
{
    [Theory]
    [InlineData(false, 1, 0, HealthStatus.Unhealthy)] // the only known worker cannot be reached
    [InlineData(false, 3, 0, HealthStatus.Unhealthy)] // none of the known workers can be reached
    [InlineData(false, 0, 0, HealthStatus.Unhealthy)] // no worker at all: every event would be dropped
    [InlineData(false, 2, 1, HealthStatus.Degraded)] // ready, but one known worker has no stream
    [InlineData(false, 1, 1, HealthStatus.Healthy)]
    [InlineData(false, 2, 2, HealthStatus.Healthy)]
    [InlineData(true, 2, 2, HealthStatus.Unhealthy)] // draining
    [InlineData(true, 0, 0, HealthStatus.Unhealthy)]
    public void Evaluate_ReadyOnlyWithAnOpenWorkerStreamAndNotDraining(bool draining, int knownWorkers, int openStreams, HealthStatus expected)
    {
        var result = GatewayReadiness.Evaluate(draining, knownWorkers, openStreams);

        Assert.Equal(expected, result.Status);
        Assert.False(string.IsNullOrEmpty(result.Description) && expected != HealthStatus.Healthy, "a not-healthy answer says why");
    }

    [Fact]
    public void Evaluate_OpenStreamToAWorkerNotYetInTheView_IsHealthy()
    {
        // Streams and the membership view are read one after the other: a stream can be open before the view lists it.
        Assert.Equal(HealthStatus.Healthy, GatewayReadiness.Evaluate(draining: false, knownWorkers: 0, openStreams: 1).Status);
    }
}
