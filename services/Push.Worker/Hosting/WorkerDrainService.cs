using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Worker.Hosting;

/// <summary>The gateway streams attached to this worker, and the signal that ends them when the worker stops.</summary>
internal sealed class GatewaySessions : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private int _open;

    public int Open => Volatile.Read(ref _open);

    /// <summary>Cancelled when the worker gives up waiting for gateways to leave: sessions stop reading events.</summary>
    public CancellationToken Stopping => _stopping.Token;

    public void Opened() => Interlocked.Increment(ref _open);

    public void Closed() => Interlocked.Decrement(ref _open);

    public void Stop() => _stopping.Cancel();

    public void Dispose() => _stopping.Dispose();
}

/// <summary>
/// Graceful stop of a worker (SIGTERM): before the server stops, the worker leaves the registries so that gateways
/// stop sending it events; each gateway then half-closes its stream and the worker answers every event it already
/// has. Streams still open after Worker:DrainTimeout stop reading and end after flushing their commands.
/// </summary>
internal sealed partial class WorkerDrainService(
    GatewaySessions sessions,
    IEnumerable<LocalMember> locals,
    IServiceProvider services,
    IOptions<WorkerOptions> options,
    ILogger<WorkerDrainService> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var member = locals.FirstOrDefault(l => l.Role == MemberRole.Worker);
        var registry = services.GetServices<IHostedService>().OfType<RegistryClientService>().FirstOrDefault();
        Log.Leaving(logger, sessions.Open);
        if (member is not null && registry is not null && member.Active)
        {
            await registry.DeregisterAsync(member).ConfigureAwait(false);
        }
        var deadline = Environment.TickCount64 + (long)options.Value.DrainTimeout.TotalMilliseconds;
        while (sessions.Open > 0 && Environment.TickCount64 < deadline && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        }
        if (sessions.Open > 0)
        {
            Log.StillAttached(logger, sessions.Open);
            sessions.Stop();
            var end = Environment.TickCount64 + 2000;
            while (sessions.Open > 0 && Environment.TickCount64 < end)
            {
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
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

        [LoggerMessage(4103, LogLevel.Information, "Worker left the cluster.", EventName = "WorkerLeft")]
        public static partial void Left(ILogger logger);
    }
}
