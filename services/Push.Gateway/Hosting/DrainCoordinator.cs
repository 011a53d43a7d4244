using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Gateway.Connections;
using Push.Gateway.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Push.Hosting.Cluster;

namespace Push.Gateway.Hosting;

/// <summary>
/// Drains the gateway (SIGTERM or the Drain RPC): refuse new clients, leave the registry so no new pushes are routed
/// here, close every client with 1001 (going away), wait up to the grace time for them to go, then abort the rest.
/// </summary>
internal sealed partial class DrainCoordinator(
    ConnectionTable table,
    GatewayIdentity identity,
    IEnumerable<LocalMember> locals,
    IServiceProvider services,
    TimeProvider time,
    ILogger<DrainCoordinator> logger) : IHostedLifecycleService
{
    private Task<long>? _drain;
    private readonly Lock _sync = new();

    public Task<long> DrainAsync(TimeSpan grace)
    {
        lock (_sync)
        {
            return _drain ??= RunAsync(grace);
        }
    }

    private async Task<long> RunAsync(TimeSpan grace)
    {
        identity.Draining = true;
        var clients = table.All.ToArray();
        Log.Draining(logger, clients.Length, grace.TotalSeconds);
        var registry = services.GetServices<IHostedService>().OfType<RegistryClientService>().FirstOrDefault();
        var gatewayMember = locals.FirstOrDefault(l => l.Role == V1.MemberRole.Gateway && l.Id == identity.Id);
        // Resumable clients keep their state here until another gateway takes them over: this gateway stays a member
        // (reachable for the takeover, and still receiving the pushes it buffers for them) until they are gone.
        var resumable = clients.Any(c => c.IsResumable);
        if (!resumable)
        {
            await DeregisterAsync(registry, gatewayMember).ConfigureAwait(false);
        }
        foreach (var c in clients)
        {
            c.Close(CloseCodes.GoingAway, "gateway draining: reconnect");
        }
        var started = time.GetTimestamp();
        while (table.Count > 0 && time.GetElapsedTime(started) < grace)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), time).ConfigureAwait(false);
        }
        if (resumable)
        {
            // The last takeover's answer must reach the new gateway (which asks again if it got lost) before this
            // process leaves: no CompleteHandoff still running (its connection already left the table) and a second
            // after the last completed one.
            var handoffs = services.GetRequiredService<Push.Gateway.Resume.HandoffOwner>();
            while ((handoffs.Completing > 0 || (handoffs.LastCompletedAt != 0 && Environment.TickCount64 - handoffs.LastCompletedAt < 1000))
                && time.GetElapsedTime(started) < grace + TimeSpan.FromSeconds(1))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), time).ConfigureAwait(false);
            }
            await DeregisterAsync(registry, gatewayMember).ConfigureAwait(false);
        }
        var resume = services.GetRequiredService<Push.Gateway.Resume.ResumeCoordinator>();
        foreach (var c in table.All)
        {
            if (c.IsResumable && c.RoughState != ResumeState.Attached)
            {
                resume.End(c, "drained", "the gateway drained before the client resumed");
            }
            else
            {
                c.Abort("drain grace time over");
            }
        }
        // No client is left to produce events: end the worker streams so workers finish and can leave too.
        services.GetRequiredService<Push.Gateway.Workers.WorkerRouter>().CloseAll();
        Log.Drained(logger, clients.Length);
        return clients.Length;
    }

    private static async Task DeregisterAsync(RegistryClientService? registry, LocalMember? member)
    {
        if (registry is not null && member is not null)
        {
            await registry.DeregisterAsync(member).ConfigureAwait(false);
        }
    }

    public Task StoppingAsync(CancellationToken cancellationToken)
        => DrainAsync(services.GetRequiredService<IOptions<GatewayOptions>>().Value.DrainTimeout);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(3301, LogLevel.Information, "Draining: closing {Clients} clients with 1001 within {GraceSeconds} s.", EventName = "Draining")]
        public static partial void Draining(ILogger logger, int clients, double graceSeconds);

        [LoggerMessage(3302, LogLevel.Information, "Drained: {Clients} clients were asked to go.", EventName = "Drained")]
        public static partial void Drained(ILogger logger, int clients);
    }
}
