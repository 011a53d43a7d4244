using System.Security.Cryptography;
using Microsoft.AspNetCore.Connections;
using Push.Gateway.WebSockets;

namespace Push.Gateway.Connections;

/// <summary>Where a resumable (push.v1) connection is in its life.</summary>
internal enum ResumeState
{
    /// <summary>A socket is attached; frames go to it and stay in the tail until acknowledged.</summary>
    Attached,

    /// <summary>The socket dropped; the connection waits for a resume within Gateway:ResumeWindow, buffering in its tail.</summary>
    Detached,

    /// <summary>Another gateway is taking it over (between BeginHandoff and CompleteHandoff); still buffering here.</summary>
    Moving,

    /// <summary>It lives on another gateway now: nothing is sent here any more.</summary>
    Moved,

    /// <summary>Taken over from another gateway and not complete yet: pushes that reach it here wait in a pending list.</summary>
    Adopting,

    /// <summary>Ended for good (closed, expired or over its bound): never resumed.</summary>
    Released,
}

/// <summary>
/// The push.v1 part of a connection: every application frame gets the next sequence number and stays in the tail
/// until the client acknowledges it (bounded per connection by Gateway:ResumeBufferMessages/ResumeBufferBytes and
/// over the gateway by Gateway:ResumeBudgetBytes); the socket can go and come back (<see cref="Detach"/>,
/// <see cref="TryAttach"/>) and the connection can move to another gateway with its tail. All of it is guarded by the
/// send lock, so the numbering, the tail and the queue stay consistent with each other.
/// </summary>
internal sealed partial class ClientConnection
{
    private readonly ResumeBudget? _resume;

    // The push.v1 state lives in an object of its own, made for resumable connections only (idle memory of plain
    // ones, docs/memory.md); these accessors keep the code below as it was.
    private ResumeFields? _resumeFields;
    private ResumeFields R => _resumeFields ??= new();

#pragma warning disable IDE1006 // named as the fields they replace
    private int _tailLimit { get => _resumeFields?.TailLimit ?? 0; init => R.TailLimit = value; }
    private long _tailBytesLimit { get => _resumeFields?.TailBytesLimit ?? 0; init => R.TailBytesLimit = value; }
    private Queue<OutboundFrame>? _tail { get => _resumeFields?.Tail; set => R.Tail = value; }
    private long _tailBytes { get => _resumeFields?.TailBytes ?? 0; set => R.TailBytes = value; }
    private ulong _lastSeq { get => _resumeFields?.LastSeq ?? 0; set => R.LastSeq = value; }
    private ResumeState _state { get => _resumeFields?.State ?? ResumeState.Attached; set => R.State = value; }
    private bool _resumeLost { get => _resumeFields?.ResumeLost ?? false; set => R.ResumeLost = value; }
    private List<OutboundFrame>? _pending { get => _resumeFields?.Pending; set => R.Pending = value; }
    private bool _pendingOverflow { get => _resumeFields?.PendingOverflow ?? false; set => R.PendingOverflow = value; }
#pragma warning restore IDE1006
    private int _attachGeneration;
    private int _replayAllowanceCount;
    private long _replayAllowanceBytes;

    /// <summary>Whether the client speaks push.v1 (resumable).</summary>
    public bool IsResumable => _resume is not null;

    /// <summary>The secret a client presents to resume (32 hex characters); null for plain connections.</summary>
    public string? ResumeSecret { get => _resumeFields?.Secret; private set => R.Secret = value; }

    /// <summary>When the socket dropped (Environment.TickCount64); 0 while attached.</summary>
    public long DetachedAt { get => _resumeFields?.DetachedAt ?? 0; set => R.DetachedAt = value; }

    /// <summary>Unix milliseconds of the drop, for a handoff.</summary>
    public long DetachedAtUnixMs { get => _resumeFields?.DetachedAtUnixMs ?? 0; set => R.DetachedAtUnixMs = value; }

    /// <summary>Close code and reason of the drop (reported in OnClose if the window ends without a resume).</summary>
    public int DetachCode { get => _resumeFields?.DetachCode ?? 0; set => R.DetachCode = value; }
    public string? DetachReason { get => _resumeFields?.DetachReason; set => R.DetachReason = value; }

    /// <summary>Gateway id the connection moves or moved to (its address is in MovedClients).</summary>
    public string? MovedToGateway { get => _resumeFields?.MovedToGateway; set => R.MovedToGateway = value; }

    /// <summary>Handoff token while Moving, and when the move must be complete by (TickCount64).</summary>
    public string? HandoffId { get => _resumeFields?.HandoffId; set => R.HandoffId = value; }
    public long HandoffDeadline;

    /// <summary>The client's last sequence in the handoff under way.</summary>
    public ulong HandoffLastSeq { get => _resumeFields?.HandoffLastSeq ?? 0; set => R.HandoffLastSeq = value; }

    /// <summary>The state read without the lock (for sweeps and gauges; may be a moment old).</summary>
    public ResumeState RoughState => _state;

    public ResumeState State
    {
        get { lock (_sendSync) { return _state; } }
    }

    public bool ResumeLost
    {
        get { lock (_sendSync) { return _resumeLost; } }
    }

    /// <summary>Sequence of the last application frame assigned.</summary>
    public ulong LastSeq
    {
        get { lock (_sendSync) { return _lastSeq; } }
    }

    /// <summary>Frames and bytes retained (sent or not, not acknowledged).</summary>
    public (int Count, long Bytes) Tail
    {
        get { lock (_sendSync) { return (_tail?.Count ?? 0, _tailBytes); } }
    }

    private static string NewSecret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Whether <paramref name="secret"/> is this connection's resume secret (constant time).</summary>
    public bool SecretMatches(string secret)
        => ResumeSecret is { } mine && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(mine), System.Text.Encoding.ASCII.GetBytes(secret));

    // Caller holds _sendSync. Numbers an application frame and keeps it in the tail. Null: the frame also goes to the
    // socket (attached); otherwise the result to return (buffered in the tail, refused, or over the bound).
    private SendResult? RetainLocked(OutboundFrame frame, out OutboundFrame? lostNotice)
    {
        lostNotice = null;
        switch (_state)
        {
            case ResumeState.Released or ResumeState.Moved:
                return SendResult.Closing;
            case ResumeState.Adopting:
                if (_pending!.Count >= _tailLimit)
                {
                    _pendingOverflow = true;
                    return SendResult.ResumeOverflow;
                }
                _pending.Add(frame);
                return SendResult.Queued;
        }
        _lastSeq++;
        if (!_resumeLost)
        {
            string? why = null;
            if ((_tail?.Count ?? 0) >= _tailLimit)
            {
                why = "more than Gateway:ResumeBufferMessages messages not acknowledged";
            }
            else if (_tailBytes + frame.Length > _tailBytesLimit)
            {
                why = "more than Gateway:ResumeBufferBytes not acknowledged";
            }
            else if (!_resume!.TryTake(frame.Length))
            {
                why = "the gateway's resume budget (Gateway:ResumeBudgetBytes) is used up";
            }
            if (why is not null)
            {
                DropTailLocked();
                _resumeLost = true;
                if (_state is ResumeState.Detached or ResumeState.Moving)
                {
                    _state = ResumeState.Released; // nobody can resume it: it ends
                    return SendResult.ResumeOverflow;
                }
                lostNotice = ControlFrames.ResumeLost(why);
            }
            else
            {
                (_tail ??= new Queue<OutboundFrame>(8)).Enqueue(frame);
                _tailBytes += frame.Length;
            }
        }
        return _state == ResumeState.Attached ? null : SendResult.Queued;
    }

    // Caller holds _sendSync.
    private void DropTailLocked()
    {
        if (_tailBytes > 0)
        {
            _resume!.Release(_tailBytes);
        }
        _tail = null;
        _tailBytes = 0;
    }

    // Caller holds _sendSync: frees every retained frame up to and including seq.
    private void AckLocked(ulong seq)
    {
        if (_tail is null)
        {
            return;
        }
        var first = _lastSeq - (ulong)_tail.Count + 1;
        long freed = 0;
        while (_tail.Count > 0 && first <= seq)
        {
            freed += _tail.Dequeue().Length;
            first++;
        }
        if (freed > 0)
        {
            _tailBytes -= freed;
            _resume!.Release(freed);
        }
        if (_tail.Count == 0)
        {
            _tail = null;
        }
    }

    /// <summary>The client acknowledged every message up to <paramref name="seq"/>; false when it acknowledged one never sent.</summary>
    public bool Ack(ulong seq)
    {
        lock (_sendSync)
        {
            if (seq > _lastSeq)
            {
                return false;
            }
            AckLocked(seq);
            return true;
        }
    }

    /// <summary>
    /// The socket ended and the connection should wait for a resume: true when it does (the caller then keeps it in the
    /// table and sends no close event); false when it cannot (resumability lost, or ended meanwhile).
    /// </summary>
    public bool Detach(int code, string reason, long nowTicks, long nowUnixMs)
    {
        lock (_sendSync)
        {
            if (_resume is null || _resumeLost || _state != ResumeState.Attached)
            {
                if (_state is ResumeState.Attached or ResumeState.Detached)
                {
                    _state = ResumeState.Released;
                    DropTailLocked();
                }
                return false;
            }
            _state = ResumeState.Detached;
            _queue = null;
            _queuedBytes = 0;
            _outputDone = true;
            _closeFlushed?.TrySetResult();
            DetachCode = code;
            DetachReason = reason;
            DetachedAt = nowTicks;
            DetachedAtUnixMs = nowUnixMs;
            return true;
        }
    }

    /// <summary>
    /// Ends a resumable connection for good (window over, closed, moved away failed): true when this call ended it
    /// (the caller sends the close event and removes it), false when it had ended or moved already.
    /// </summary>
    public bool Release()
    {
        lock (_sendSync)
        {
            if (_state is ResumeState.Released or ResumeState.Moved)
            {
                return false;
            }
            _state = ResumeState.Released;
            DropTailLocked();
            _pending = null;
            _queue = null;
            _queuedBytes = 0;
            _outputDone = true;
            _closeFlushed?.TrySetResult();
            return true;
        }
    }

    /// <summary>Why a resume with <paramref name="lastSeq"/> cannot succeed, or null when it can (caller holds nothing).</summary>
    public string? CheckResume(ulong lastSeq)
    {
        lock (_sendSync)
        {
            return CheckResumeLocked(lastSeq);
        }
    }

    private string? CheckResumeLocked(ulong lastSeq)
    {
        if (_state is ResumeState.Released or ResumeState.Moved or ResumeState.Adopting)
        {
            return "expired";
        }
        if (_resumeLost)
        {
            return "overflow";
        }
        return SeqCheckLocked(lastSeq);
    }

    // Caller holds _sendSync: whether the tail can serve a client that has everything up to lastSeq.
    private string? SeqCheckLocked(ulong lastSeq)
    {
        if (lastSeq > _lastSeq)
        {
            return "ahead";
        }
        var first = _lastSeq - (ulong)(_tail?.Count ?? 0) + 1;
        return lastSeq + 1 < first ? "overflow" : null; // messages after lastSeq were freed (acknowledged)
    }

    /// <summary>
    /// Attaches a new socket to a detached (or adopted) connection: the welcome, then every retained message after
    /// <paramref name="lastSeq"/>, then live traffic. Returns the number replayed, or -1 when it cannot resume.
    /// </summary>
    public int TryAttach(ConnectionContext transport, ulong lastSeq, Func<ulong, OutboundFrame> welcome)
    {
        bool schedule;
        int replayed;
        lock (_sendSync)
        {
            if (_state != ResumeState.Detached || CheckResumeLocked(lastSeq) is not null)
            {
                return -1;
            }
            AckLocked(lastSeq);
            _transport = transport;
            _output = transport.Transport.Output;
            _attachGeneration++;
            _outputDone = false;
            _closeQueued = false;
            _closeFlushed = null;
            Volatile.Write(ref ClosingSince, 0);
            ServerCloseCode = 0;
            ServerCloseReason = null;
            DetachedAt = 0;
            DetachedAtUnixMs = 0;
            Volatile.Write(ref LastActivity, Environment.TickCount64);
            Volatile.Write(ref MissedPings, 0);
            _queue = new Queue<OutboundFrame>(Math.Max(4, (_tail?.Count ?? 0) + 1));
            var w = welcome(lastSeq);
            _queue.Enqueue(w);
            _queuedBytes = w.Length;
            replayed = 0;
            if (_tail is not null)
            {
                foreach (var f in _tail)
                {
                    _queue.Enqueue(f);
                    _queuedBytes += f.Length;
                    replayed++;
                }
            }
            // The replay may be larger than the send queue's bound (the tail also holds what was sent and not
            // acknowledged): it is allowed on top of the bound until the queue has drained once.
            _replayAllowanceCount = _queue.Count;
            _replayAllowanceBytes = _queuedBytes;
            _state = ResumeState.Attached;
            schedule = StartPumpLocked();
        }
        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        return replayed;
    }

    /// <summary>Starts a move to another gateway: from now on it buffers here until <see cref="CompleteMove"/> (or the move is undone).</summary>
    public bool BeginMove()
    {
        lock (_sendSync)
        {
            if (_state != ResumeState.Detached)
            {
                return false;
            }
            _state = ResumeState.Moving;
            return true;
        }
    }

    /// <summary>Undoes a move that was not completed in time: the connection waits for a resume again.</summary>
    public void UndoMove()
    {
        lock (_sendSync)
        {
            if (_state == ResumeState.Moving)
            {
                _state = ResumeState.Detached;
            }
        }
    }

    /// <summary>
    /// Completes a move: hands over the retained frames after <paramref name="lastSeq"/> with their sequence numbers and
    /// marks the connection moved (nothing is sent here again). Null when it cannot (it ended meanwhile, or overflowed).
    /// </summary>
    public List<(ulong Seq, OutboundFrame Frame)>? CompleteMove(ulong lastSeq)
    {
        lock (_sendSync)
        {
            if (_state != ResumeState.Moving || _resumeLost || SeqCheckLocked(lastSeq) is not null)
            {
                return null;
            }
            var result = new List<(ulong, OutboundFrame)>(_tail?.Count ?? 0);
            if (_tail is not null)
            {
                var seq = _lastSeq - (ulong)_tail.Count + 1;
                foreach (var f in _tail)
                {
                    if (seq > lastSeq)
                    {
                        result.Add((seq, f));
                    }
                    seq++;
                }
            }
            DropTailLocked();
            _state = ResumeState.Moved;
            return result;
        }
    }

    /// <summary>A connection being taken over from another gateway: pushes that reach it here wait until <see cref="CompleteAdoption"/>.</summary>
    public void StartAdoption()
    {
        lock (_sendSync)
        {
            _state = ResumeState.Adopting;
            _pending = [];
        }
    }

    /// <summary>
    /// Completes a takeover: the owner's tail (frames after the client's last sequence), then the pushes that reached
    /// this gateway meanwhile and were not in it (a push that reached both gateways is taken once, by push id). The
    /// connection is then detached, ready for <see cref="TryAttach"/>. False when the pending list overflowed.
    /// </summary>
    public bool CompleteAdoption(ulong lastSeq, string resumeSecret, IReadOnlyList<OutboundFrame> tail)
    {
        lock (_sendSync)
        {
            if (_state != ResumeState.Adopting || _pendingOverflow)
            {
                return false;
            }
            ResumeSecret = resumeSecret;
            _lastSeq = lastSeq;
            HashSet<ulong>? seen = null;
            foreach (var f in tail)
            {
                if (f.PushId != 0)
                {
                    (seen ??= []).Add(f.PushId);
                }
            }
            var pending = _pending!;
            _pending = null;
            _state = ResumeState.Detached;
            foreach (var f in tail)
            {
                if (RetainLocked(f, out _) == SendResult.ResumeOverflow)
                {
                    return false;
                }
            }
            foreach (var f in pending)
            {
                if ((f.PushId == 0 || seen is null || !seen.Contains(f.PushId)) && RetainLocked(f, out _) == SendResult.ResumeOverflow)
                {
                    return false;
                }
            }
            return !_resumeLost;
        }
    }
}

/// <summary>The fields only a resumable (push.v1) connection uses, allocated on its first use of them.</summary>
internal sealed class ResumeFields
{
    public int TailLimit;
    public long TailBytesLimit;
    public Queue<OutboundFrame>? Tail;
    public long TailBytes;
    public ulong LastSeq;
    public ResumeState State;
    public bool ResumeLost;
    public List<OutboundFrame>? Pending;
    public bool PendingOverflow;
    public string? Secret;
    public long DetachedAt;
    public long DetachedAtUnixMs;
    public int DetachCode;
    public string? DetachReason;
    public string? MovedToGateway;
    public string? HandoffId;
    public ulong HandoffLastSeq;
}
