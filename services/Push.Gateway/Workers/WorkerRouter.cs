using Google.Protobuf;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Gateway.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.WebSockets;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Workers;

/// <summary>
/// Keeps one <see cref="WorkerLink"/> per live worker (learned from the registry), pins each connection to the
/// least-loaded worker when it connects (GatewayWorker's routerBind) and re-pins it only when that worker is gone.
/// With no worker alive, clients stay connected and their events are dropped and counted.
/// </summary>
internal sealed partial class WorkerRouter(
    ClusterMembership membership,
    ConnectionTable table,
    GatewayIdentity identity,
    AdvertisedAddress advertised,
    GatewayMetrics metrics,
    PendingHandshakes handshakes,
    IOptions<GatewayOptions> options,
    IOptions<ClusterOptions> cluster,
    ILogger<WorkerRouter> logger,
    ILogger<WorkerLink> linkLogger) : BackgroundService
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, WorkerLink> _links = new(StringComparer.Ordinal);
    private volatile WorkerLink[] _open = [];
    private string? _address;
    private long _lastNoWorkerLog;

    public int OpenCount => _open.Length;

    public IReadOnlyList<WorkerLink> OpenLinks => _open;

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
        membership.Changed += Sync;
        Sync();
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        membership.Changed -= Sync;
        lock (_sync)
        {
            foreach (var link in _links.Values)
            {
                link.Remove();
            }
            _links.Clear();
        }
    }

    private void Sync()
    {
        if (_address is null)
        {
            return;
        }
        var workers = membership.Workers;
        lock (_sync)
        {
            foreach (var w in workers)
            {
                if (_links.TryGetValue(w.Id, out var existing) && string.Equals(existing.Address, w.Address, StringComparison.Ordinal))
                {
                    continue;
                }
                existing?.Remove();
                var link = new WorkerLink(w, options.Value.WorkerQueueCapacity, this, cluster.Value, linkLogger);
                _links[w.Id] = link;
                _ = Task.Run(() => link.RunAsync(identity.Id, _address));
            }
            foreach (var id in _links.Keys.ToArray())
            {
                if (!workers.Any(w => string.Equals(w.Id, id, StringComparison.Ordinal)))
                {
                    _links.Remove(id, out var gone);
                    gone!.Remove();
                }
            }
        }
        LinkStateChanged();
    }

    /// <summary>Closes every worker stream (after a drain: no client is left to send events).</summary>
    public void CloseAll()
    {
        membership.Changed -= Sync;
        lock (_sync)
        {
            foreach (var link in _links.Values)
            {
                link.Remove();
            }
            _links.Clear();
        }
        LinkStateChanged();
    }

    public void LinkStateChanged()
    {
        lock (_sync)
        {
            _open = _links.Values.Where(l => l.IsOpen && !l.IsRemoved).ToArray();
        }
    }

    private WorkerLink? Pick()
    {
        var open = _open;
        WorkerLink? best = null;
        foreach (var l in open)
        {
            if (l.IsOpen && (best is null || l.Assigned < best.Assigned))
            {
                best = l;
            }
        }
        return best;
    }

    private WorkerLink? Route(ClientConnection c, Event e)
    {
        var link = c.Worker;
        if (link is null || !link.IsOpen)
        {
            var next = Pick();
            if (next is null)
            {
                return null;
            }
            link?.AddAssigned(-1);
            next.AddAssigned(1);
            c.Worker = link = next;
            lock (c.SessionSync)
            {
                c.SessionSentVersion = -1;
            }
        }
        lock (c.SessionSync)
        {
            if (c.SessionSentVersion != c.SessionVersion)
            {
                var s = new Session();
                if (c.Session is not null)
                {
                    s.Values.Add(c.Session);
                }
                e.Session = s;
                c.SessionSentVersion = c.SessionVersion;
            }
        }
        if (c.Uid is { } uid)
        {
            e.Uid = uid;
        }
        return link;
    }

    /// <summary>Hands an event to the connection's worker, waiting while that worker's queue is full (backpressure).</summary>
    public ValueTask PostAsync(ClientConnection c, Event e, CancellationToken ct)
    {
        var link = Route(c, e);
        if (link is null)
        {
            NoWorker();
            return ValueTask.CompletedTask;
        }
        return link.TryPost(e) ? ValueTask.CompletedTask : link.PostAsync(e, ct);
    }

    /// <summary>Hands a connect event that waits for the worker's decision to a worker; false when none is open.</summary>
    public async ValueTask<bool> PostConnectAsync(ClientConnection c, Event e, CancellationToken ct)
    {
        var link = Route(c, e);
        if (link is null)
        {
            NoWorker();
            return false;
        }
        if (!link.TryPost(e))
        {
            await link.PostAsync(e, ct).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>Releases the worker pin of a connection that never connected (its handshake was rejected).</summary>
    public static void Release(ClientConnection c)
    {
        c.Worker?.AddAssigned(-1);
        c.Worker = null;
    }

    /// <summary>Posts the close event of a connection and releases its worker pin.</summary>
    public void PostClose(ClientConnection c, Event e)
    {
        var link = c.Worker is { IsOpen: true } pinned ? pinned : Pick();
        c.Worker?.AddAssigned(-1);
        c.Worker = null;
        if (link is null)
        {
            NoWorker();
            return;
        }
        if (!link.TryPost(e))
        {
            _ = link.PostAsync(e, CancellationToken.None).AsTask();
        }
    }

    /// <summary>Moves events queued on a failed link to the remaining workers.</summary>
    public void Reroute(WorkerLink from, List<Event> events)
    {
        foreach (var e in events)
        {
            var c = table.Find(e.ClientId);
            WorkerLink? to;
            if (c is not null)
            {
                if (ReferenceEquals(c.Worker, from))
                {
                    c.Worker = null;
                    from.AddAssigned(-1);
                }
                var hadSession = e.Session is not null;
                to = Route(c, e);
                if (to is not null && !hadSession && e.Session is null)
                {
                    e.Session = SessionStore.ToProto(c);
                }
            }
            else
            {
                to = Pick();
            }
            if (to is null || ReferenceEquals(to, from) || !to.TryPost(e))
            {
                metrics.EventDropped(to is null ? "no_worker" : "worker_queue_full");
            }
        }
    }

    private void NoWorker()
    {
        metrics.EventDropped("no_worker");
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastNoWorkerLog);
        if (now - last > 5000 && Interlocked.CompareExchange(ref _lastNoWorkerLog, now, last) == last)
        {
            Log.NoWorker(logger);
        }
    }

    /// <summary>Applies one command from a worker to a connection of this gateway.</summary>
    public void Apply(WorkerLink from, Command command)
    {
        switch (command.KindCase)
        {
            case Command.KindOneofCase.AcceptHandshake:
                if (!handshakes.Accept(command.ClientId))
                {
                    Log.LateHandshakeDecision(logger, "accept", command.ClientId);
                }
                return;
            case Command.KindOneofCase.RejectHandshake:
                if (!handshakes.Reject(command.ClientId, command.RejectHandshake.Status, command.RejectHandshake.Reason ?? string.Empty))
                {
                    Log.LateHandshakeDecision(logger, "reject", command.ClientId);
                }
                return;
            default:
                break;
        }
        var c = table.Find(command.ClientId);
        if (c is null)
        {
            Log.CommandForUnknownClient(logger, command.KindCase.ToString(), command.ClientId);
            return;
        }
        var o = options.Value;
        switch (command.KindCase)
        {
            case Command.KindOneofCase.Send:
                var send = command.Send;
                c.Send(send.DataCase == SendCommand.DataOneofCase.Binary ? OutboundFrame.Binary(send.Binary.Span) : OutboundFrame.Text(send.Text));
                break;
            case Command.KindOneofCase.Close:
                var close = command.Close;
                OutboundFrame? last = close.DataCase switch
                {
                    CloseCommand.DataOneofCase.Text => OutboundFrame.Text(close.Text),
                    CloseCommand.DataOneofCase.Binary => OutboundFrame.Binary(close.Binary.Span),
                    _ => null,
                };
                // 1005/1006/1015 must never be sent, and only registered or application codes are valid.
                var code = close.Code != 0 && FrameParser.IsValidCloseCode(close.Code) ? close.Code : CloseCodes.Normal;
                c.Close(code, close.Reason ?? string.Empty, lastMessage: last);
                break;
            case Command.KindOneofCase.SetSession:
                SessionStore.Write(c, command.SetSession.Session, merge: false, o.MaxSessionSize, workerHasIt: ReferenceEquals(c.Worker, from));
                break;
            case Command.KindOneofCase.UpdateSession:
                SessionStore.Write(c, command.UpdateSession.Session, merge: true, o.MaxSessionSize, workerHasIt: ReferenceEquals(c.Worker, from));
                break;
            case Command.KindOneofCase.BindUid:
                if (IsValidName(command.BindUid.Uid, o))
                {
                    table.BindUid(c, command.BindUid.Uid);
                }
                break;
            case Command.KindOneofCase.UnbindUid:
                table.UnbindUid(c);
                break;
            case Command.KindOneofCase.JoinGroup:
                if (IsValidName(command.JoinGroup.Group, o))
                {
                    table.JoinGroup(c, command.JoinGroup.Group, o.MaxGroupsPerConnection);
                }
                break;
            case Command.KindOneofCase.LeaveGroup:
                table.LeaveGroup(c, command.LeaveGroup.Group);
                break;
            default:
                break;
        }
    }

    private static bool IsValidName(string? s, GatewayOptions o) => !string.IsNullOrEmpty(s) && s.Length <= o.MaxNameLength;

    private static partial class Log
    {
        [LoggerMessage(3001, LogLevel.Warning, "No business worker is connected: client events are dropped (clients stay connected).", EventName = "NoWorker")]
        public static partial void NoWorker(ILogger logger);

        [LoggerMessage(3002, LogLevel.Debug, "Worker command {Kind} for client {ClientId}, which is not connected here; ignored.", EventName = "CommandForUnknownClient")]
        public static partial void CommandForUnknownClient(ILogger logger, string kind, string clientId);

        [LoggerMessage(3003, LogLevel.Debug, "Worker {Decision} for the handshake of {ClientId}, which no longer waits (timed out or left); ignored.", EventName = "LateHandshakeDecision")]
        public static partial void LateHandshakeDecision(ILogger logger, string decision, string clientId);
    }
}
