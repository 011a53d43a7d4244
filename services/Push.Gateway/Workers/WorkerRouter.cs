using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Gateway.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.WebSockets;
using Push.Hosting.Cluster;

namespace Push.Gateway.Workers;

/// <summary>
/// Keeps one <see cref="WorkerLink"/> per live worker (learned from the registry), pins each connection to the
/// least-loaded worker when it connects (GatewayWorker's routerBind) and re-pins it only when that worker's stream is
/// gone. With no worker alive, clients stay connected and their events are dropped and counted.
/// Every link runs as a task the router tracks; stopping the router makes every link leave and waits for them.
/// </summary>
internal sealed partial class WorkerRouter(
    ClusterMembership membership,
    ConnectionTable table,
    GatewayIdentity identity,
    AdvertisedAddress advertised,
    GatewayMetrics metrics,
    PendingHandshakes handshakes,
    IWorkerConnector connector,
    TimeProvider time,
    IOptions<GatewayOptions> options,
    ILogger<WorkerRouter> logger,
    ILogger<WorkerLink> linkLogger) : BackgroundService, IWorkerLinkOwner
{
    private readonly Lock _sync = new(); // _links, _running, _stopped
    private readonly Dictionary<string, WorkerLink> _links = new(StringComparer.Ordinal);
    private readonly Dictionary<WorkerLink, Task> _running = [];
    private volatile WorkerLink[] _open = [];
    private volatile WorkerLink[] _alive = [];
    private string? _address;
    private bool _stopped;
    private long _lastNoWorkerLog = long.MinValue;

    public int OpenCount => _open.Length;

    public IReadOnlyList<WorkerLink> OpenLinks => _open;

    /// <summary>Every link still running (open, reconnecting or leaving).</summary>
    public IReadOnlyList<WorkerLink> Links => _alive;

    /// <summary>Bytes held for workers (admitted and not acknowledged yet), summed over links.</summary>
    public long QueuedBytes => _alive.Sum(l => l.Queue.Bytes);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            _address = await advertised.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        metrics.OpenWorkerStreams = () => _open.Length;
        metrics.WorkerQueues = () => _alive;
        membership.Changed += Sync;
        Sync();
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, time, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await StopLinksAsync().ConfigureAwait(false);
    }

    /// <summary>Makes every link leave and waits until each has ended (its queue closed, its events moved or counted).</summary>
    public Task StopLinksAsync()
    {
        CloseAll();
        Task[] running;
        lock (_sync)
        {
            running = [.. _running.Values];
        }
        return Task.WhenAll(running);
    }

    /// <summary>Closes every worker stream (after a drain: no client is left to send events). The links are still awaited on stop.</summary>
    public void CloseAll()
    {
        membership.Changed -= Sync;
        WorkerLink[] gone;
        lock (_sync)
        {
            _stopped = true;
            gone = [.. _links.Values];
            _links.Clear();
        }
        foreach (var link in gone)
        {
            link.Remove();
        }
        LinkStateChanged();
    }

    private void Sync()
    {
        if (_address is null)
        {
            return;
        }
        var workers = membership.Workers;
        var gone = new List<WorkerLink>();
        lock (_sync)
        {
            if (_stopped)
            {
                return;
            }
            foreach (var w in workers)
            {
                if (_links.TryGetValue(w.Id, out var existing))
                {
                    if (string.Equals(existing.Address, w.Address, StringComparison.Ordinal))
                    {
                        continue;
                    }
                    gone.Add(existing);
                }
                var o = options.Value;
                var link = new WorkerLink(w, connector.Connect(w), new LinkQueue(o.WorkerQueueBytes, o.WorkerQueueCapacity), this, time, linkLogger);
                _links[w.Id] = link;
                _running[link] = Task.Run(() => RunLinkAsync(link));
            }
            foreach (var id in _links.Keys.ToArray())
            {
                if (!workers.Any(w => string.Equals(w.Id, id, StringComparison.Ordinal)))
                {
                    _links.Remove(id, out var left);
                    gone.Add(left!);
                }
            }
        }
        // Outside the lock: a leave runs link code (its writer stops) that reports back to this router.
        foreach (var link in gone)
        {
            link.Remove();
        }
        LinkStateChanged();
    }

    private async Task RunLinkAsync(WorkerLink link)
    {
        try
        {
            await link.RunAsync(identity.Id, _address!).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // a link that breaks is logged and ended; it must not take the router down
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.LinkCrashed(logger, link.WorkerId, ex);
            CloseAndReroute(link);
        }
        finally
        {
            lock (_sync)
            {
                _running.Remove(link);
            }
            LinkStateChanged();
            link.Dispose();
        }
    }

    /// <summary>Raised (outside any lock) after a link opened, failed, left or ended.</summary>
    public event Action? StateChanged;

    public void LinkStateChanged()
    {
        lock (_sync)
        {
            _open = [.. _links.Values.Where(l => l.IsOpen && !l.IsRemoved)];
            _alive = [.. _running.Keys];
        }
        StateChanged?.Invoke();
    }

    private WorkerLink? Pick()
    {
        WorkerLink? best = null;
        foreach (var l in _open)
        {
            if (l.IsOpen && !l.IsRemoved && (best is null || l.Assigned < best.Assigned))
            {
                best = l;
            }
        }
        return best;
    }

    private void NoWorker()
    {
        metrics.EventDropped("no_worker");
        var now = time.GetTimestamp();
        var last = Interlocked.Read(ref _lastNoWorkerLog);
        if ((last == long.MinValue || time.GetElapsedTime(last, now) > TimeSpan.FromSeconds(5)) && Interlocked.CompareExchange(ref _lastNoWorkerLog, now, last) == last)
        {
            Log.NoWorker(logger);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3001, LogLevel.Warning, "No business worker is connected: client events are dropped (clients stay connected).", EventName = "NoWorker")]
        public static partial void NoWorker(ILogger logger);

        [LoggerMessage(3002, LogLevel.Debug, "Worker command {Kind} for client {ClientId}, which is not connected here; ignored.", EventName = "CommandForUnknownClient")]
        public static partial void CommandForUnknownClient(ILogger logger, string kind, string clientId);

        [LoggerMessage(3003, LogLevel.Debug, "Worker {Decision} for the handshake of {ClientId}, which no longer waits (timed out or left); ignored.", EventName = "LateHandshakeDecision")]
        public static partial void LateHandshakeDecision(ILogger logger, string decision, string clientId);

        [LoggerMessage(3004, LogLevel.Error, "Worker stream to {WorkerId} broke on an unexpected error; its events moved to other workers.", EventName = "LinkCrashed")]
        public static partial void LinkCrashed(ILogger logger, string workerId, Exception exception);

        [LoggerMessage(3006, LogLevel.Debug, "Worker {WorkerId} acknowledged {Ack} events, more than were written on its stream; ignored.", EventName = "AckBeyondWritten")]
        public static partial void AckBeyondWritten(ILogger logger, string workerId, ulong ack);

        [LoggerMessage(3005, LogLevel.Warning, "Worker {WorkerId} sent a {Bytes}-byte message for client {ClientId}, larger than Gateway:SendQueueBytes allows; dropped.", EventName = "WorkerSendTooBig")]
        public static partial void WorkerSendTooBig(ILogger logger, string workerId, int bytes, string clientId);
    }
}
