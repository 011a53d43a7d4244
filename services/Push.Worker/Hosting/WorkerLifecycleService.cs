using Microsoft.Extensions.Hosting;

namespace Push.Worker.Hosting;

/// <summary>Calls the events class's OnWorkerStart and OnWorkerStop.</summary>
internal sealed class WorkerLifecycleService(BusinessEvents events) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => events.OnWorkerStartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => events.OnWorkerStopAsync(cancellationToken);
}
