using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.WebSockets;
using Push.Gateway.Workers;

namespace Push.Gateway.Connections;

/// <summary>
/// One WebSocket client. While idle it holds no buffer, task, timer or queue array beyond what it once needed:
/// the send queue and its pump exist only while there is something to send (the pump is this object itself,
/// queued on the thread pool), and heartbeats are driven by one shared timer over all connections.
/// </summary>
internal sealed partial class ClientConnection : IThreadPoolWorkItem
{
    private ConnectionContext _transport;
    private PipeWriter _output;
    private readonly GatewayMetrics _metrics;
    private readonly int _queueLimit;
    private readonly int _queueBytesLimit;
    private readonly SlowConsumerPolicy _policy;

    private readonly Lock _sendSync = new();
    private Queue<OutboundFrame>? _queue;
    private int _queuedBytes;
    private bool _pumping;
    private bool _closeQueued;
    private bool _outputDone;
    private TaskCompletionSource? _closeFlushed;

    // The id is made on demand from the gateway id, Sequence and 32 random bits unless it was given whole (a resumed
    // connection keeps the id it was issued; tests): its 40 characters would be about 100 bytes per idle connection.
    private readonly string _idSource; // the whole id, or the gateway id when _idDerived
    private readonly uint _idTag;
    private readonly bool _idDerived;

    /// <summary>A connection with the given id.</summary>
    public ClientConnection(long sequence, string clientId, ConnectionContext transport, GatewayMetrics metrics, GatewayOptions options, ResumeBudget? resume = null)
        : this(sequence, clientId, 0, derived: false, transport, metrics, options, resume)
    {
    }

    /// <summary>A new connection of gateway <paramref name="gatewayId"/>: its id is that gateway's, its key <paramref name="sequence"/> and 32 fresh random bits.</summary>
    public static ClientConnection Issue(long sequence, string gatewayId, ConnectionContext transport, GatewayMetrics metrics, GatewayOptions options, ResumeBudget? resume = null)
        => new(sequence, gatewayId, global::Push.Gateway.ClientId.NewTag(), derived: true, transport, metrics, options, resume);

    private ClientConnection(long sequence, string idSource, uint idTag, bool derived, ConnectionContext transport, GatewayMetrics metrics, GatewayOptions options, ResumeBudget? resume)
    {
        _idSource = idSource;
        _idTag = idTag;
        _idDerived = derived;
        _resume = resume;
        if (resume is not null)
        {
            _tailLimit = options.ResumeBufferMessages ?? 2 * options.SendQueueLimit;
            _tailBytesLimit = options.ResumeBufferBytes ?? 2L * options.SendQueueBytes;
            ResumeSecret = NewSecret();
        }
        Sequence = sequence;
        _transport = transport;
        _output = transport.Transport.Output;
        _metrics = metrics;
        _queueLimit = options.SendQueueLimit;
        _queueBytesLimit = options.SendQueueBytes;
        // A resumable connection never drops a frame from a live stream (that would be a silent gap): when its queue is
        // full it is closed as a slow consumer and its retained tail makes it resumable.
        _policy = resume is null ? options.SlowConsumerPolicy : SlowConsumerPolicy.Close;
        LastActivity = Environment.TickCount64;
    }

    public long Sequence { get; }

    /// <summary>The client's id (made anew at each call for a connection this gateway issued: keep it rather than ask again in a loop).</summary>
    public string ClientId => _idDerived ? global::Push.Gateway.ClientId.Format(_idSource, Sequence, _idTag) : _idSource;

    /// <summary>The id was issued with the connection by this gateway (gateway id, Sequence, random bits), not given.</summary>
    public bool IdIsIssued => _idDerived;

    /// <summary>Whether <paramref name="clientId"/> is this connection's id (without making it).</summary>
    public bool HasClientId(string clientId)
        => _idDerived ? global::Push.Gateway.ClientId.Matches(clientId, _idSource, Sequence, _idTag) : string.Equals(_idSource, clientId, StringComparison.Ordinal);

    // Uid and groups are guarded by ConnectionTable's lock.
    public string? Uid { get; set; }
    public List<string>? Groups { get; set; }

    // Session and worker pin, guarded by SessionSync.
    public Lock SessionSync { get; } = new();
    public Dictionary<string, string>? Session { get; set; }
    public int SessionVersion { get; set; }
    public int SessionSentVersion { get; set; }

    /// <summary>The connection's last worker event sequence (Event.seq), guarded by SessionSync; kept across a resume.</summary>
    public ulong EventSeq { get; set; }

    /// <summary>The worker this connection's events go to (kept while that worker's stream lives). Changed only by <see cref="PinLocked"/>.</summary>
    public WorkerLink? Worker => Volatile.Read(ref _worker);

    /// <summary>The link generation the pin was taken in: a pin of an older generation is stale (that stream ended).</summary>
    public int WorkerGeneration { get; private set; }

    private WorkerLink? _worker;

    /// <summary>The connection ended (its close was posted or its handshake refused): it is never pinned again (caller holds SessionSync).</summary>
    public bool PinReleased { get; private set; }

    /// <summary>Releases the pin for good (caller holds <see cref="SessionSync"/>).</summary>
    public void ReleasePinLocked()
    {
        PinLocked(null);
        PinReleased = true;
    }

    /// <summary>Whether the pin is a link whose current stream is the one it was taken on and is open (caller holds SessionSync).</summary>
    public bool HasLivePinLocked => _worker is { } w && WorkerGeneration == w.Generation && w.IsOpen;

    /// <summary>
    /// Moves the worker pin; the caller holds <see cref="SessionSync"/>, so pin changes of one connection are serial and
    /// the links' assigned counts move with them. The new worker gets the full session with the next event.
    /// </summary>
    public void PinLocked(WorkerLink? link)
    {
        if (link is not null && PinReleased)
        {
            return;
        }
        var old = _worker;
        if (ReferenceEquals(old, link) && (link is null || WorkerGeneration == link.Generation))
        {
            return;
        }
        old?.AddAssigned(-1);
        link?.AddAssigned(1);
        Volatile.Write(ref _worker, link);
        WorkerGeneration = link?.Generation ?? 0;
        SessionSentVersion = -1;
    }

    // Heartbeat and close state, read by the shared heartbeat timer.
    public long LastActivity;
    public int MissedPings;
    public long ClosingSince;
    public long LastPing;

    /// <summary>Code and reason of a close the server started (reported to the worker in OnClose).</summary>
    public int ServerCloseCode;

    /// <summary>The connection must not wait for a resume when its socket ends (closed by the application, DestroyClient, a protocol error, or the client said so).</summary>
    public bool EndsForGood;
    public string? ServerCloseReason;

    // Rate limit (token bucket), touched only by the receive loop.
    public double RateTokens = -1;
    public long RateStamp;

    public int QueueDepth
    {
        get { lock (_sendSync) { return _queue?.Count ?? 0; } }
    }

    /// <summary>Frame bytes queued towards this client right now (bounded by Gateway:SendQueueBytes).</summary>
    public int QueuedBytes
    {
        get { lock (_sendSync) { return _queuedBytes; } }
    }

    public bool IsClosing => Volatile.Read(ref ClosingSince) != 0;

    /// <summary>Queues a frame; false if it was not queued (<see cref="TrySend"/> tells why).</summary>
    public bool Send(OutboundFrame frame, bool inline = true) => TrySend(frame, inline) == SendResult.Queued;

    /// <summary>
    /// Queues a frame of a control-API push; a frame that could not be queued is counted by reason
    /// (push.gateway.pushes.undelivered).
    /// </summary>
    public SendResult Push(OutboundFrame frame, bool inline = true)
    {
        var result = TrySend(frame, inline);
        if (result != SendResult.Queued)
        {
            _metrics.PushUndelivered(result switch
            {
                SendResult.QueueFull => "send_queue_full",
                SendResult.ResumeOverflow => "resume_buffer_full",
                _ => "closing",
            });
        }
        return result;
    }

    /// <summary>
    /// Queues a frame. A frame is always admitted into an empty queue (the start-time check makes every frame within
    /// limits fit Gateway:SendQueueBytes anyway). Full queue: DropOldest drops old frames to make room (Queued), Close
    /// closes the client with 4001 (QueueFull). <paramref name="inline"/>: start the pump on this thread (one target: no
    /// thread-pool hop) rather than on the thread pool (fan-out: the caller moves on to the next connection at once
    /// and each pump coalesces what queued meanwhile).
    /// </summary>
    public SendResult TrySend(OutboundFrame frame, bool inline = true)
    {
        var dropped = 0;
        var overflow = false;
        var schedule = false;
        lock (_sendSync)
        {
            OutboundFrame? lostNotice = null;
            var slow = false;
            if (_resume is not null && frame.CountsAsMessage)
            {
                frame = frame.ForV1();
                // A full send queue is a slow consumer: it is closed (4001) and resumes from its tail; that check comes
                // before the tail's own bound, which the unsent frames count towards too.
                slow = _state == ResumeState.Attached && !_closeQueued && !_outputDone && QueueFullLocked(frame.Length);
                if (RetainLocked(frame, out lostNotice) is { } result)
                {
                    // Not for the socket: buffered while detached or adopted, refused after the end, or over the bound
                    // of a detached connection (which then ends; the owner is told outside the lock).
                    if (result != SendResult.ResumeOverflow || _state != ResumeState.Released)
                    {
                        return result;
                    }
                    overflow = true;
                }
            }
            if (overflow)
            {
                // fall through to the release below
            }
            else if (slow)
            {
                overflow = true; // the frame is in the tail; the close below keeps the connection resumable
            }
            else if (_closeQueued || _outputDone)
            {
                // A resumable connection that is closing (drain, slow consumer) has the frame in its tail: the client
                // gets it when it resumes.
                return _resume is not null && frame.CountsAsMessage && !_resumeLost ? SendResult.Queued : SendResult.Closing;
            }
            else
            {
                _queue ??= new Queue<OutboundFrame>(4);
                if (lostNotice is not null)
                {
                    _queue.Enqueue(lostNotice);
                    _queuedBytes += lostNotice.Length;
                }
                if (QueueFullLocked(frame.Length))
                {
                    if (_policy == SlowConsumerPolicy.DropOldest)
                    {
                        while (_queue.Count > 0 && (_queue.Count >= _queueLimit || _queuedBytes + frame.Length > _queueBytesLimit))
                        {
                            var old = _queue.Dequeue();
                            _queuedBytes -= old.Length;
                            dropped++;
                        }
                    }
                    else
                    {
                        overflow = true;
                    }
                }
                if (!overflow)
                {
                    _queue.Enqueue(frame);
                    _queuedBytes += frame.Length;
                    _metrics.QueuedBytesReached(_queuedBytes);
                    schedule = StartPumpLocked();
                }
            }
        }
        if (overflow && _resume is not null && State == ResumeState.Released)
        {
            _resume.Lost(this, "resume_overflow");
            return SendResult.ResumeOverflow;
        }
        if (dropped > 0)
        {
            _metrics.Dropped(dropped);
        }
        if (overflow)
        {
            _metrics.Dropped(1);
            // A resumable connection keeps this frame in its tail: the client gets it when it resumes.
            Close(CloseCodes.SlowConsumer, "slow consumer: send queue full", dropQueued: true);
            return _resume is not null && !ResumeLost ? SendResult.Queued : SendResult.QueueFull;
        }
        if (schedule)
        {
            if (inline)
            {
                // Copying into the pipe and a flush that completes at once (Kestrel's socket sender does the syscall on
                // its own thread) costs less than a thread-pool hop; a flush that must wait continues asynchronously.
                _ = PumpAsync();
            }
            else
            {
                SendScheduler.Schedule(this);
            }
        }
        return SendResult.Queued;
    }

    /// <summary>Queues a close frame (after what is queued, unless <paramref name="dropQueued"/>); later sends are refused.</summary>
    public void Close(int code, string reason, bool dropQueued = false, OutboundFrame? lastMessage = null)
    {
        var dropped = 0;
        var schedule = false;
        lock (_sendSync)
        {
            if (_closeQueued || _outputDone)
            {
                return;
            }
            _queue ??= new Queue<OutboundFrame>(2);
            if (dropQueued)
            {
                dropped = _queue.Count;
                _queue.Clear();
                _queuedBytes = 0;
            }
            // The last message and the close frame are admitted whatever the bound, and counted like any frame.
            if (lastMessage is not null)
            {
                _queue.Enqueue(lastMessage);
                _queuedBytes += lastMessage.Length;
            }
            var close = OutboundFrame.Close(code, reason);
            _queue.Enqueue(close);
            _queuedBytes += close.Length;
            _metrics.QueuedBytesReached(_queuedBytes);
            _closeQueued = true;
            ServerCloseCode = code;
            ServerCloseReason = reason;
            // A drain, a heartbeat timeout or a slow-consumer close keeps a resumable connection for a resume; any
            // other server close ends it.
            EndsForGood |= code is not (CloseCodes.GoingAway or CloseCodes.HeartbeatTimeout or CloseCodes.SlowConsumer);
            _closeFlushed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.CompareExchange(ref ClosingSince, Environment.TickCount64, 0);
            schedule = StartPumpLocked();
        }
        if (dropped > 0)
        {
            _metrics.Dropped(dropped);
        }
        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Waits (bounded) until a queued close frame has been flushed.</summary>
    public Task WhenCloseFlushedAsync(TimeSpan timeout, TimeProvider time)
    {
        Task? t;
        lock (_sendSync)
        {
            t = _closeFlushed?.Task;
        }
        return t is null ? Task.CompletedTask : t.WaitAsync(timeout, time).ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    /// <summary>Closes the TCP connection at once, discarding what is queued (DestroyClient, timeouts).</summary>
    public void Abort(string reason, bool forGood = false)
    {
        EndsForGood |= forGood;
        lock (_sendSync)
        {
            _queue?.Clear();
            _queuedBytes = 0;
            _closeQueued = true;
            if (ServerCloseCode == 0)
            {
                ServerCloseCode = CloseCodes.Abnormal;
                ServerCloseReason = reason;
            }
            Interlocked.CompareExchange(ref ClosingSince, Environment.TickCount64, 0);
        }
        _transport.Abort(new ConnectionAbortedException(reason));
    }

    /// <summary>Releases the queue's array of an idle connection (called by the heartbeat timer).</summary>
    public void TrimIfIdle()
    {
        lock (_sendSync)
        {
            if (!_pumping && _queue is { Count: 0 })
            {
                _queue = null;
            }
        }
    }

    /// <summary>Called when the receive loop has ended: no more writes.</summary>
    public void MarkDone()
    {
        lock (_sendSync)
        {
            _outputDone = true;
            _queue = null;
            _queuedBytes = 0;
            _closeFlushed?.TrySetResult();
        }
    }

    // Caller holds _sendSync: whether a frame of this length would overflow the send queue (a resumed connection's replay
    // is allowed on top of the bound until the queue has drained once).
    private bool QueueFullLocked(int length)
        => _queue is { Count: > 0 } q && (q.Count >= _queueLimit + _replayAllowanceCount || _queuedBytes + length > _queueBytesLimit + _replayAllowanceBytes);

    // Caller holds _sendSync; returns true when the caller must schedule the pump.
    private bool StartPumpLocked()
    {
        if (_pumping)
        {
            return false;
        }
        _pumping = true;
        return true;
    }

    void IThreadPoolWorkItem.Execute() => _ = PumpAsync();

    /// <summary>Runs the pump on the caller's thread (<see cref="SendScheduler"/>'s sweepers).</summary>
    public void RunPump() => _ = PumpAsync();

    private async Task PumpAsync()
    {
        while (true)
        {
            var count = 0;
            long bytes = 0;
            var closeWritten = false;
            PipeWriter output;
            int generation;
            lock (_sendSync)
            {
                if (_outputDone || _queue is null)
                {
                    _pumping = false;
                    return;
                }
                output = _output;
                generation = _attachGeneration;
                while (bytes < 64 * 1024 && _queue.TryDequeue(out var frame))
                {
                    _queuedBytes -= frame.Length;
                    output.Write(frame.Bytes);
                    bytes += frame.Length;
                    if (frame.CountsAsMessage)
                    {
                        count++;
                    }
                    if (frame.IsClose)
                    {
                        closeWritten = true;
                        _queue.Clear();
                        _queuedBytes = 0;
                        break;
                    }
                }
                if (_queue.Count == 0)
                {
                    _replayAllowanceCount = 0;
                    _replayAllowanceBytes = 0;
                }
                if (bytes == 0)
                {
                    _pumping = false;
                    return;
                }
            }
            bool failed;
            try
            {
                var result = await output.FlushAsync().ConfigureAwait(false);
                failed = result.IsCompleted || result.IsCanceled;
            }
            catch (Exception)
            {
                // Whatever ended the transport ends this output: the receive loop reports the close.
                failed = true;
            }
            if (count > 0 && !failed)
            {
                _metrics.MessagesSent(count, bytes);
            }
            if (closeWritten || failed)
            {
                lock (_sendSync)
                {
                    if (generation != _attachGeneration)
                    {
                        continue; // a resumed connection has a new socket now: go on with it
                    }
                    _outputDone = true;
                    _pumping = false;
                    if (failed)
                    {
                        _queue?.Clear();
                        _queuedBytes = 0;
                    }
                    _closeFlushed?.TrySetResult();
                }
                return;
            }
        }
    }
}
