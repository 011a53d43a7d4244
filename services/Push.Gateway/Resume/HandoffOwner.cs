using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Push.Gateway.Connections;
using Push.Gateway.WebSockets;
using Push.Gateway.Workers;
using Push.V1;

namespace Push.Gateway.Resume;

/// <summary>
/// The owner's side of a takeover (ResumeService): BeginHandoff checks the client's proof, ends the old socket if
/// it is still open and answers the membership the new gateway joins; CompleteHandoff leaves the uid and groups,
/// waits until no push that could still see the connection is running (<see cref="FanoutGate"/>), and hands over
/// the retained tail and the session. Client-id operations for the connection are forwarded from BeginHandoff on.
/// </summary>
internal sealed partial class HandoffOwner(
    ConnectionTable table,
    ResumeCoordinator resume,
    WorkerRouter router,
    ResumeMetrics metrics,
    TimeProvider time,
    ILogger<HandoffOwner> logger)
{
    /// <summary>Detail prefix of the FAILED_PRECONDITION that says where a connection went ("moved:&lt;gateway id&gt;").</summary>
    public const string MovedPrefix = "moved:";

    /// <summary>How long a begun handoff may wait for its completion before it is undone.</summary>
    public static readonly TimeSpan CompleteTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a completed handoff's answer is kept for a caller whose first answer got lost (it retries).</summary>
    public static readonly TimeSpan AnswerKept = TimeSpan.FromSeconds(30);

    // Answers of completed handoffs by handoff id: CompleteHandoff is idempotent, so a caller whose call timed out
    // after the owner let go gets the same state again instead of losing the connection on both sides.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (CompleteHandoffResponse Response, long Until)> _completed = new(StringComparer.Ordinal);

    public async Task<BeginHandoffResponse> BeginAsync(BeginHandoffRequest request, CancellationToken ct)
    {
        var c = table.Find(request.ClientId);
        if (c is null || !c.IsResumable)
        {
            if (resume.Moved.TryGet(request.ClientId, out var moved) && !string.Equals(moved.GatewayId, request.GatewayId, StringComparison.Ordinal))
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, MovedPrefix + moved.GatewayId + " (the connection lives there now)"));
            }
            throw new RpcException(new Status(StatusCode.NotFound, "no resumable connection with this client id waits here (window over, or never known)"));
        }
        if (!c.SecretMatches(request.ResumeSecret))
        {
            metrics.Handoff("secret");
            throw new RpcException(new Status(StatusCode.PermissionDenied, "wrong resume secret"));
        }
        if (c.RoughState == ResumeState.Moving)
        {
            // An earlier attempt whose answer got lost, or whose gateway gave up: the newest one wins (the older one's
            // CompleteHandoff then finds no handoff and fails cleanly on its side).
            c.UndoMove();
            metrics.Handoff("superseded");
        }
        if (!await resume.DetachAsync(c, ct).ConfigureAwait(false))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "closed: the connection ended for good"));
        }
        if (c.CheckResume(request.LastSeq) is { } why)
        {
            metrics.Handoff(why);
            throw new RpcException(new Status(StatusCode.FailedPrecondition, why + ": the connection cannot resume from this sequence"));
        }
        if (!c.BeginMove())
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "closed: the connection is not waiting for a resume (another move is under way, or it ended)"));
        }
        c.MovedToGateway = request.GatewayId;
        c.HandoffId = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        c.HandoffLastSeq = request.LastSeq;
        Volatile.Write(ref c.HandoffDeadline, Environment.TickCount64 + (long)CompleteTimeout.TotalMilliseconds);
        resume.Moved.Set(c.ClientId, request.GatewayId, request.GatewayAddress, Environment.TickCount64 + (long)resume.Window.TotalMilliseconds);
        var response = new BeginHandoffResponse { Uid = c.Uid ?? string.Empty, HandoffId = c.HandoffId };
        response.Groups.Add(table.GroupsOf(c));
        return response;
    }

    /// <summary>When the last handoff was completed (Environment.TickCount64; 0: never): a drain waits a moment after it.</summary>
    public long LastCompletedAt => Volatile.Read(ref _lastCompletedAt);

    /// <summary>
    /// CompleteHandoff calls running now. The connection leaves the table at the start of one, before its answer is
    /// built: a drain that saw an empty table must still wait for these, or the process ends with the tail unsent.
    /// </summary>
    public int Completing => Volatile.Read(ref _completing);

    private long _lastCompletedAt;
    private int _completing;

    public async Task<CompleteHandoffResponse> CompleteAsync(CompleteHandoffRequest request, CancellationToken ct)
    {
        Interlocked.Increment(ref _completing);
        try
        {
            return await CompleteCoreAsync(request, ct).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _completing);
        }
    }

    private async Task<CompleteHandoffResponse> CompleteCoreAsync(CompleteHandoffRequest request, CancellationToken ct)
    {
        var now = Environment.TickCount64;
        foreach (var (key, kept) in _completed)
        {
            if (now > kept.Until)
            {
                _completed.TryRemove(key, out _);
            }
        }
        if (_completed.TryGetValue(request.HandoffId, out var done) && done.Response.ResumeSecret.Length > 0)
        {
            metrics.Handoff("answered_again");
            return done.Response;
        }
        var c = table.Find(request.ClientId);
        if (c is null || c.RoughState != ResumeState.Moving || !string.Equals(c.HandoffId, request.HandoffId, StringComparison.Ordinal))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "no handoff of this client id is under way here (it was undone after " + CompleteTimeout.TotalSeconds + " s, or the connection ended)"));
        }
        var uid = c.Uid ?? string.Empty;
        var groups = table.GroupsOf(c);
        table.Remove(c);
        // Pushes that found the connection before it left the table may still be queuing to it: wait for them, so
        // that everything they queued is in the tail handed over.
        await table.Gate.WaitForReadersAsync(time, ct).ConfigureAwait(false);
        var tail = c.CompleteMove(c.HandoffLastSeq);
        if (tail is null)
        {
            metrics.Handoff("overflow");
            resume.Moved.Remove(c.ClientId);
            router.PostClose(c, new Event { ClientId = c.ClientId, Close = new CloseEvent { Code = CloseCodes.Abnormal, Reason = "resume buffer overflowed during the move" } });
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "overflow: more was pushed than the connection may keep"));
        }
        var response = new CompleteHandoffResponse
        {
            Uid = uid,
            DetachedAtUnixMs = c.DetachedAtUnixMs,
            ResumeSecret = c.ResumeSecret!,
        };
        response.Groups.Add(groups);
        foreach (var (seq, frame) in tail)
        {
            var m = new RetainedMessage { Seq = seq, PushId = frame.PushId };
            if (frame.Opcode == OutboundFrame.OpText)
            {
                m.Text = System.Text.Encoding.UTF8.GetString(frame.AppPayload(v1: true));
            }
            else
            {
                m.Binary = ByteString.CopyFrom(frame.AppPayload(v1: true));
            }
            response.Messages.Add(m);
        }
        lock (c.SessionSync)
        {
            response.Session = new Session();
            if (c.Session is not null)
            {
                response.Session.Values.Add(c.Session);
            }
            response.EventSeq = c.EventSeq;
            response.WorkerId = c.Worker?.WorkerId ?? string.Empty;
        }
        _completed[request.HandoffId] = (response, Environment.TickCount64 + (long)AnswerKept.TotalMilliseconds);
        Volatile.Write(ref _lastCompletedAt, Environment.TickCount64);
        WorkerRouter.PostMoved(c, c.MovedToGateway ?? string.Empty);
        c.MarkDone();
        metrics.Handoff("moved_out");
        Log.Moved(logger, c.ClientId, c.MovedToGateway ?? "?", tail.Count);
        return response;
    }

    private static partial class Log
    {
        [LoggerMessage(3611, LogLevel.Information, "Client {ClientId} moved to gateway {Gateway} with {Messages} retained messages.", EventName = "MovedOut")]
        public static partial void Moved(ILogger logger, string clientId, string gateway, int messages);
    }
}
