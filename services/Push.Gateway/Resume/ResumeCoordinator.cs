using Grpc.Core;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Gateway.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.WebSockets;
using Push.Gateway.Workers;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Resume;

/// <summary>What became of a client's resume request at the handshake.</summary>
internal sealed record ResumeOutcome(ClientConnection? Connection, string? Failure, string FromGateway, long AwayMs);

/// <summary>
/// The gateway's side of resumable connections: a push.v1 client presenting a resume token is reattached here (the
/// connection lives here) or taken over from the gateway that holds it (<see cref="Control.PeerDirectory"/>, the
/// internal ResumeService); connections whose socket dropped end when Gateway:ResumeWindow is over. The owner side
/// of a takeover is <see cref="HandoffOwner"/>.
/// </summary>
internal sealed partial class ResumeCoordinator
{
    private readonly ConnectionTable _table;
    private readonly WorkerRouter _router;
    private readonly GatewayIdentity _identity;
    private readonly ClusterMembership _membership;
    private readonly Control.IPeerClients _peers;
    private readonly AdvertisedAddress _advertised;
    private readonly GatewayMetrics _metrics;
    private readonly ResumeMetrics _resumeMetrics;
    private readonly GatewayOptions _options;
    private readonly ClusterOptions _cluster;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Routing.IPushRouting? _routing;

    public ResumeCoordinator(
        ConnectionTable table,
        WorkerRouter router,
        GatewayIdentity identity,
        ClusterMembership membership,
        Control.IPeerClients peers,
        AdvertisedAddress advertised,
        GatewayMetrics metrics,
        ResumeBudget budget,
        ResumeMetrics resumeMetrics,
        MovedClients moved,
        CommandForwarder forwarder,
        IOptions<GatewayOptions> options,
        IOptions<ClusterOptions> cluster,
        TimeProvider time,
        ILogger<ResumeCoordinator> logger,
        Routing.IPushRouting? routing = null)
    {
        _routing = routing;
        _table = table;
        _router = router;
        _identity = identity;
        _membership = membership;
        _peers = peers;
        _advertised = advertised;
        _metrics = metrics;
        Budget = budget;
        _resumeMetrics = resumeMetrics;
        Moved = moved;
        _options = options.Value;
        _cluster = cluster.Value;
        _time = time;
        _logger = logger;
        router.ForwardMoved = forwarder.TryForward;
        budget.OnLost = (c, _) => End(c, "overflow", "resume buffer overflowed while the client was away");
    }

    public ResumeBudget Budget { get; }

    /// <summary>Client ids that moved away from here, and where to (client-id operations are forwarded there).</summary>
    public MovedClients Moved { get; }

    public TimeSpan Window => _options.ResumeWindow;

    /// <summary>Builds the welcome control frame of a connection.</summary>
    public OutboundFrame Welcome(ClientConnection c, ulong seq, bool resumed, string? failed)
        => ControlFrames.Welcome(c.ClientId, c.ResumeSecret!, seq, resumed, failed, _options.ResumeWindow, AckIntervalMs, _options.PingInterval);

    /// <summary>How often clients are asked to acknowledge (at most): every ack frees retained frames.</summary>
    public const int AckIntervalMs = 250;

    /// <summary>
    /// Finds the connection a resume token names and makes it ready to attach: here (it waits detached, or its old
    /// socket is closed first) or taken over from its gateway. The caller answers 101 and calls TryAttach.
    /// </summary>
    public async Task<ResumeOutcome> PrepareAsync(ResumeToken token, ConnectionContext transport, CancellationToken ct)
    {
        if (_options.ResumeWindow <= TimeSpan.Zero)
        {
            return Fail("expired");
        }
        var owner = token.ClientId[..ClientId.GatewayIdLength];
        var local = _table.Find(token.ClientId);
        if (local is not null)
        {
            return await PrepareLocalAsync(local, token, ct).ConfigureAwait(false);
        }
        // It left this gateway: take it back from where it went.
        if (Moved.TryGet(token.ClientId, out var moved))
        {
            return await TakeOverAsync(moved.GatewayId, token, transport, ct).ConfigureAwait(false);
        }
        if (string.Equals(owner, _identity.Id, StringComparison.Ordinal))
        {
            return Fail("expired");
        }
        return await TakeOverAsync(owner, token, transport, ct).ConfigureAwait(false);
    }

    private ResumeOutcome Fail(string reason)
    {
        _resumeMetrics.Resume(reason);
        return new ResumeOutcome(null, reason, string.Empty, 0);
    }

    private async Task<ResumeOutcome> PrepareLocalAsync(ClientConnection c, ResumeToken token, CancellationToken ct)
    {
        if (!c.IsResumable)
        {
            return Fail("expired");
        }
        if (!c.SecretMatches(token.Secret))
        {
            Log.BadSecret(_logger, token.ClientId);
            return Fail("secret");
        }
        if (!await DetachAsync(c, ct).ConfigureAwait(false))
        {
            return Fail("closed");
        }
        if (c.CheckResume(token.LastSeq) is { } why)
        {
            return Fail(why);
        }
        var away = c.DetachedAt == 0 ? 0 : Environment.TickCount64 - c.DetachedAt;
        return new ResumeOutcome(c, null, _identity.Id, away);
    }

    /// <summary>Makes sure the connection has no socket: a client that resumes knows its old socket is gone even if this gateway has not noticed yet.</summary>
    public async Task<bool> DetachAsync(ClientConnection c, CancellationToken ct)
    {
        if (c.State == ResumeState.Attached)
        {
            c.Abort("the client resumed on a new socket");
            var deadline = _time.GetTimestamp();
            while (c.State == ResumeState.Attached)
            {
                if (_time.GetElapsedTime(deadline) > TimeSpan.FromSeconds(3))
                {
                    return false;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(5), _time, ct).ConfigureAwait(false);
            }
        }
        return c.State is ResumeState.Detached;
    }

    private async Task<ResumeOutcome> TakeOverAsync(string owner, ResumeToken token, ConnectionContext transport, CancellationToken ct)
    {
        var address = _advertised.Value;
        BeginHandoffResponse? begun = null;
        ResumeService.ResumeServiceClient? client = null;
        Member? ownerMember = null; // kept: a retry after the owner left the view still reaches it
        // The gateway an id names may have handed the connection on: it answers where to (a few hops at most).
        for (var hop = 0; hop < 3 && begun is null; hop++)
        {
            var member = _membership.FindGateway(owner);
            if (member is null || address is null || string.Equals(owner, _identity.Id, StringComparison.Ordinal))
            {
                return Fail("owner_unreachable");
            }
            client = _peers.GetResume(member);
            ownerMember = member;
            try
            {
                begun = await client.BeginHandoffAsync(
                    new BeginHandoffRequest { ClientId = token.ClientId, ResumeSecret = token.Secret, LastSeq = token.LastSeq, GatewayId = _identity.Id, GatewayAddress = address },
                    Options(ct)).ConfigureAwait(false);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.FailedPrecondition && ex.Status.Detail.StartsWith(HandoffOwner.MovedPrefix, StringComparison.Ordinal))
            {
                owner = ex.Status.Detail[HandoffOwner.MovedPrefix.Length..].Split(' ')[0];
            }
            catch (RpcException ex)
            {
                return Fail(FailureOf(ex, owner));
            }
            catch (Exception ex) when (IsTransportFailure(ex))
            {
                Log.HandoffFailed(_logger, owner, StatusCode.Unavailable, ex.Message);
                return Fail("owner_unreachable");
            }
        }
        if (begun is null || client is null)
        {
            return Fail("owner_unreachable");
        }
        // Join the uid and groups before the owner leaves them: for a moment both gateways are members, and a push
        // that reaches both is taken once (push ids). Pushes that reach this gateway wait in the pending list.
        var c = new ClientConnection(_table.NextSequence(), token.ClientId, transport, _metrics, _options, Budget);
        c.StartAdoption();
        _table.Add(c);
        var adopted = false;
        try
        {
            if (begun.Uid.Length > 0)
            {
                _table.BindUid(c, begun.Uid);
            }
            foreach (var g in begun.Groups)
            {
                _table.JoinGroup(c, g, int.MaxValue);
            }
            // The interest of the joins is in effect cluster-wide before the owner lets go: every push after it
            // reaches this gateway.
            if (_routing is not null)
            {
                await _routing.SyncAsync(ct).ConfigureAwait(false);
            }
            CompleteHandoffResponse? done = null;
            // The owner lets go when it answers: an answer lost on the way (a deadline under load, a channel closed
            // as the draining owner left the view) is asked for again (CompleteHandoff is idempotent per handoff id),
            // within the handshake's own deadline.
            for (var attempt = 1; done is null; attempt++)
            {
                try
                {
                    done = await client.CompleteHandoffAsync(new CompleteHandoffRequest { ClientId = token.ClientId, HandoffId = begun.HandoffId }, Options(ct, HandoffDeadline)).ConfigureAwait(false);
                }
                catch (Exception ex) when (attempt < 3 && !ct.IsCancellationRequested
                    && (ex is RpcException { StatusCode: StatusCode.DeadlineExceeded or StatusCode.Unavailable or StatusCode.Cancelled or StatusCode.Internal } || IsTransportFailure(ex)))
                {
                    Log.HandoffRetry(_logger, owner, ex is RpcException r ? r.StatusCode : StatusCode.Unavailable, attempt);
                    client = _peers.GetResume(ownerMember!);
                }
                catch (RpcException ex)
                {
                    return Fail(FailureOf(ex, owner));
                }
                catch (Exception ex) when (IsTransportFailure(ex))
                {
                    Log.HandoffFailed(_logger, owner, StatusCode.Unavailable, ex.Message);
                    return Fail("owner_unreachable");
                }
            }
            var tail = new List<OutboundFrame>(done.Messages.Count);
            foreach (var m in done.Messages)
            {
                tail.Add(m.DataCase == RetainedMessage.DataOneofCase.Text
                    ? OutboundFrame.V1App(true, System.Text.Encoding.UTF8.GetBytes(m.Text), m.PushId)
                    : OutboundFrame.V1App(false, m.Binary.Span, m.PushId));
            }
            if (!c.CompleteAdoption(token.LastSeq, done.ResumeSecret, tail))
            {
                _router.PostClose(c, new Event { ClientId = c.ClientId, Close = new CloseEvent { Code = CloseCodes.Abnormal, Reason = "resume buffer overflowed during the move" } });
                return Fail("overflow");
            }
            // The owner applied what came in between; take its final word on uid and groups.
            Reconcile(c, done);
            if (_routing is not null)
            {
                await _routing.SyncAsync(ct).ConfigureAwait(false);
            }
            lock (c.SessionSync)
            {
                c.Session = done.Session is null || done.Session.Values.Count == 0 ? null : new Dictionary<string, string>(done.Session.Values, StringComparer.Ordinal);
                c.SessionVersion++;
                c.EventSeq = done.EventSeq;
            }
            _router.PinPreferred(c, done.WorkerId);
            var away = done.DetachedAtUnixMs == 0 ? 0 : Math.Max(0, _time.GetUtcNow().ToUnixTimeMilliseconds() - done.DetachedAtUnixMs);
            c.DetachCode = CloseCodes.Abnormal;
            c.DetachReason = "moved from gateway " + owner;
            c.DetachedAt = Environment.TickCount64;
            adopted = true;
            Log.TakenOver(_logger, c.ClientId, owner, tail.Count);
            return new ResumeOutcome(c, null, owner, away);
        }
        finally
        {
            if (!adopted)
            {
                // Nothing of a failed takeover stays here (a later resume must not find a half-made copy).
                _table.Remove(c);
                c.Release();
            }
        }
    }

    private static bool IsTransportFailure(Exception ex)
        => ex is ObjectDisposedException or HttpRequestException or IOException or InvalidOperationException or OperationCanceledException;

    private void Reconcile(ClientConnection c, CompleteHandoffResponse done)
    {
        if (done.Uid.Length == 0)
        {
            _table.UnbindUid(c);
        }
        else
        {
            _table.BindUid(c, done.Uid);
        }
        var want = done.Groups.ToHashSet(StringComparer.Ordinal);
        foreach (var g in _table.GroupsOf(c))
        {
            if (!want.Contains(g))
            {
                _table.LeaveGroup(c, g);
            }
        }
        foreach (var g in want)
        {
            _table.JoinGroup(c, g, int.MaxValue);
        }
    }

    private string FailureOf(RpcException ex, string owner)
    {
        Log.HandoffFailed(_logger, owner, ex.StatusCode, ex.Status.Detail);
        return ex.StatusCode switch
        {
            StatusCode.NotFound => "expired",
            StatusCode.PermissionDenied => "secret",
            StatusCode.FailedPrecondition when ex.Status.Detail.StartsWith("overflow", StringComparison.Ordinal) => "overflow",
            StatusCode.FailedPrecondition when ex.Status.Detail.StartsWith("ahead", StringComparison.Ordinal) => "ahead",
            StatusCode.FailedPrecondition => "closed",
            _ => "owner_unreachable",
        };
    }

    /// <summary>Deadline of one handoff call: at least a few seconds (the owner waits for pushes in flight), however short Cluster:PeerTimeout is.</summary>
    private TimeSpan HandoffDeadline => _cluster.PeerTimeout > TimeSpan.FromSeconds(3) ? _cluster.PeerTimeout : TimeSpan.FromSeconds(3);

    private CallOptions Options(CancellationToken ct, TimeSpan? deadline = null) => new(deadline: _time.GetUtcNow().UtcDateTime + (deadline ?? HandoffDeadline), cancellationToken: ct);

    /// <summary>Tells the connection's worker it resumed (the same client: no close, no connect).</summary>
    public ValueTask PostResumedAsync(ClientConnection c, ConnectionContext transport, ResumeOutcome outcome, int replayed, CancellationToken ct)
    {
        var e = new Event
        {
            ClientId = c.ClientId,
            Resume = new ResumeEvent
            {
                FromGatewayId = outcome.FromGateway,
                AwayMs = outcome.AwayMs,
                Replayed = replayed,
                GatewayEndpoint = transport.LocalEndPoint?.ToString() ?? string.Empty,
            },
        };
        if (transport.RemoteEndPoint is System.Net.IPEndPoint ip)
        {
            e.Resume.RemoteAddress = (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString();
            e.Resume.RemotePort = ip.Port;
        }
        _resumeMetrics.Resume(string.Equals(outcome.FromGateway, _identity.Id, StringComparison.Ordinal) ? "resumed" : "moved_in");
        return _router.PostAsync(c, e, ct);
    }

    /// <summary>The socket of a resumable connection ended: it waits for a resume (true), or it cannot (false: end it as usual).</summary>
    public bool TryDetach(ClientConnection c, int code, string reason)
    {
        if (!c.IsResumable || c.EndsForGood || _options.ResumeWindow <= TimeSpan.Zero)
        {
            return false;
        }
        if (!c.Detach(code, reason, Environment.TickCount64, _time.GetUtcNow().ToUnixTimeMilliseconds()))
        {
            return false;
        }
        _resumeMetrics.Detached(code);
        Log.Detached(_logger, c.ClientId, code, reason);
        return true;
    }

    /// <summary>Called by the heartbeat sweep for connections without a socket: ends those whose window is over, undoes stale moves.</summary>
    public void Sweep(ClientConnection c, long now)
    {
        switch (c.RoughState)
        {
            case ResumeState.Detached when c.DetachedAt != 0 && now - c.DetachedAt > (long)_options.ResumeWindow.TotalMilliseconds:
                End(c, "window_over", "resume window over (Gateway:ResumeWindow)");
                break;
            case ResumeState.Moving when now > Volatile.Read(ref c.HandoffDeadline):
                c.UndoMove();
                Moved.Remove(c.ClientId);
                _resumeMetrics.Handoff("undone");
                break;
        }
    }

    /// <summary>Forgets moves older than the resume window (once per heartbeat tick).</summary>
    public void PruneMoved(long now) => Moved.Prune(now);

    /// <summary>Ends a waiting connection for good: out of the table, OnClose to its worker.</summary>
    public void End(ClientConnection c, string tag, string why)
    {
        if (!c.Release() && c.RoughState != ResumeState.Released)
        {
            return;
        }
        if (!_table.Remove(c))
        {
            return;
        }
        var code = c.DetachCode != 0 ? c.DetachCode : CloseCodes.Abnormal;
        var reason = c.DetachReason is { } r ? why + ": " + r : why;
        _router.PostClose(c, new Event { ClientId = c.ClientId, Close = new CloseEvent { Code = code, Reason = reason.Length > 200 ? reason[..200] : reason } });
        c.MarkDone();
        _resumeMetrics.Ended(tag); // its socket was counted closed when it dropped
        Log.Ended(_logger, c.ClientId, why);
    }

    private static partial class Log
    {
        [LoggerMessage(3601, LogLevel.Debug, "Client {ClientId} lost its socket ({Code} {Reason}); it waits for a resume.", EventName = "Detached")]
        public static partial void Detached(ILogger logger, string clientId, int code, string reason);

        [LoggerMessage(3602, LogLevel.Debug, "Client {ClientId} ended without a resume: {Why}.", EventName = "ResumeEnded")]
        public static partial void Ended(ILogger logger, string clientId, string why);

        [LoggerMessage(3603, LogLevel.Information, "Client {ClientId} moved here from gateway {Owner} with {Replayed} retained messages.", EventName = "TakenOver")]
        public static partial void TakenOver(ILogger logger, string clientId, string owner, int replayed);

        [LoggerMessage(3604, LogLevel.Warning, "Taking a client over from gateway {Owner} failed: {Status} {Detail}.", EventName = "HandoffFailed")]
        public static partial void HandoffFailed(ILogger logger, string owner, StatusCode status, string detail);

        [LoggerMessage(3606, LogLevel.Warning, "Completing the takeover of a client from gateway {Owner} got no answer ({Status}, attempt {Attempt}); asking again.", EventName = "HandoffRetry")]
        public static partial void HandoffRetry(ILogger logger, string owner, StatusCode status, int attempt);

        [LoggerMessage(3605, LogLevel.Warning, "A resume of client {ClientId} presented a wrong secret.", EventName = "BadResumeSecret")]
        public static partial void BadSecret(ILogger logger, string clientId);
    }
}
