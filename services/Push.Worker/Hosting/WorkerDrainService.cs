using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Worker.Hosting;

/// <summary>
/// Graceful stop of a worker (SIGTERM): before the server stops, the worker leaves the registries so that gateways
/// stop sending it events; each gateway then half-closes its stream and the worker answers every event it already
/// has. Streams still open after Worker:DrainTimeout stop reading and end after answering what they hold and flushing
/// their commands; <see cref="StopGrace"/> later the rest stop handling too (what they still hold is counted).
/// </summary>
internal sealed partial class WorkerDrainService(
    GatewaySessions sessions,
    IEnumerable<LocalMember> locals,
    IServiceProvider services,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<WorkerDrainService> logger) : IHostedLifecycleService
{
    /// <summary>Time streams get, after they stopped reading, to answer what they hold; and then to end.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var member = locals.FirstOrDefault(l => l.Role == MemberRole.Worker);
        var registry = services.GetServices<IHostedService>().OfType<RegistryClientService>().FirstOrDefault();
        Log.Leaving(logger, sessions.Open);
        if (member is not null && registry is not null && member.Active)
        {
            await registry.DeregisterAsync(member).ConfigureAwait(false);
        }
        if (!await sessions.WaitAllClosedAsync(options.Value.DrainTimeout, time, cancellationToken).ConfigureAwait(false))
        {
            Log.StillAttached(logger, sessions.Open);
            sessions.Stop();
            if (!await sessions.WaitAllClosedAsync(StopGrace, time, CancellationToken.None).ConfigureAwait(false))
            {
                Log.StillHandling(logger, sessions.Open);
                sessions.Abort();
                await sessions.WaitAllClosedAsync(StopGrace, time, CancellationToken.None).ConfigureAwait(false);
            }
        }
        Log.Left(logger);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(4101, LogLevel.Information, "Worker stopping: leaving the cluster; {Streams} gateway stream(s) attached finish their events first.", EventName = "WorkerLeaving")]
        public static partial void Leaving(ILogger logger, int streams);

        [LoggerMessage(4102, LogLevel.Warning, "{Streams} gateway stream(s) still attached after Worker:DrainTimeout: they stop reading events now.", EventName = "WorkerStreamsStillAttached")]
        public static partial void StillAttached(ILogger logger, int streams);

        [LoggerMessage(4104, LogLevel.Warning, "{Streams} gateway stream(s) still handling events after stopping to read: they stop now; what they hold is counted in push.worker.events.unhandled.", EventName = "WorkerStreamsStillHandling")]
        public static partial void StillHandling(ILogger logger, int streams);

        [LoggerMessage(4103, LogLevel.Information, "Worker left the cluster.", EventName = "WorkerLeft")]
        public static partial void Left(ILogger logger);
    }
}
