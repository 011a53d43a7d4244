using Grpc.Core;
using Microsoft.Extensions.Logging;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Workers;

/// <summary>What a <see cref="WorkerLink"/> needs from the router that owns it.</summary>
internal interface IWorkerLinkOwner
{
    /// <summary>The link opened, failed or left: recompute the set of open links.</summary>
    void LinkStateChanged();

    /// <summary>Closes the link's queue and moves every event it had not written to the other workers (or counts it).</summary>
    void CloseAndReroute(WorkerLink link);

    /// <summary>Applies one command the worker sent.</summary>
    void Apply(WorkerLink from, Command command);

    /// <summary>The worker acknowledged more events than were written on its stream (counted; the ack is ignored).</summary>
    void AckIgnored(WorkerLink from, ulong ack);
}

/// <summary>
/// The gateway's stream to one business worker: one <see cref="LinkQueue"/> bounded by bytes, one writer loop that
/// packs queued events into batches (at most <see cref="MaxBatch"/> events and <see cref="MaxBatchBytes"/> bytes; a
/// larger event goes alone), one reader loop that applies the worker's commands. Reconnects while the worker is a
/// member. The reader also takes the worker's cumulative acks, which free the queue's budget; whenever a stream ends,
/// its queue is closed and every event the worker had not acknowledged moves, in order, to other workers (those written
/// flagged redelivered). When the worker leaves the cluster (it deregistered, e.g. on SIGTERM) the link leaves
/// gracefully: the writer stops, the request stream is half-closed and the commands and acks of the events the worker
/// already has are still applied until it ends the stream (at most <see cref="LeaveTimeout"/>); then what it did not
/// acknowledge and what was queued meanwhile move to other workers.
/// </summary>
internal sealed partial class WorkerLink : IDisposable
{
    /// <summary>Most events in one StreamEventsRequest.</summary>
    public const int MaxBatch = 256;

    /// <summary>Most bytes of events in one StreamEventsRequest (below the worker's receive limit, GrpcLimits.StreamReceiveBytes).</summary>
    public const int MaxBatchBytes = Push.Hosting.GrpcLimits.StreamBatchBytes;

    /// <summary>How long a leaving worker gets to answer the events it already has.</summary>
    public static readonly TimeSpan LeaveTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a new stream may take to answer its response headers.</summary>
    public static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _leave = new();
    private readonly IWorkerCalls _calls;
    private readonly IWorkerLinkOwner _owner;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private int _assigned;
    private int _generation;

    public WorkerLink(Member worker, IWorkerCalls calls, LinkQueue queue, IWorkerLinkOwner owner, TimeProvider time, ILogger logger)
    {
        WorkerId = worker.Id;
        Address = worker.Address;
        _calls = calls;
        Queue = queue;
        _owner = owner;
        _time = time;
        _logger = logger;
    }

    public string WorkerId { get; }
    public string Address { get; }
    public LinkQueue Queue { get; }

    /// <summary>Whether the stream is open and takes events.</summary>
    public bool IsOpen => Queue.IsOpen;

    public bool IsRemoved => _leave.IsCancellationRequested;

    /// <summary>Connections pinned to this link.</summary>
    public int Assigned => Volatile.Read(ref _assigned);

    /// <summary>Changes each time a stream opens: a pin taken under an older generation is stale (the worker lost its session cache).</summary>
    public int Generation => Volatile.Read(ref _generation);

    public int QueueDepth => Queue.Count;

    public void AddAssigned(int delta) => Interlocked.Add(ref _assigned, delta);

    /// <summary>Starts the graceful leave (the worker is no longer a member, or the gateway stops).</summary>
    public void Remove()
    {
        try
        {
            _leave.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _leave.Dispose();
        _calls.Dispose();
    }

    /// <summary>Keeps a stream open until the link is removed; returns when it has left and its queue is closed.</summary>
    public async Task RunAsync(string gatewayId, string gatewayAddress)
    {
        var leave = _leave.Token;
        var failures = 0;
        try
        {
            while (!leave.IsCancellationRequested)
            {
                var end = await RunStreamAsync(gatewayId, gatewayAddress, logFailure: failures == 0, leave).ConfigureAwait(false);
                if (end == StreamEnd.Left)
                {
                    break;
                }
                failures = end == StreamEnd.FailedAfterOpen ? 1 : failures + 1;
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(failures, 2) * 0.5), _time, leave).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
        finally
        {
            _owner.CloseAndReroute(this);
            _owner.LinkStateChanged();
            Log.LinkClosed(_logger, WorkerId);
        }
    }

    private enum StreamEnd
    {
        Left,
        FailedToOpen,
        FailedAfterOpen,
    }

    private async Task<StreamEnd> RunStreamAsync(string gatewayId, string gatewayAddress, bool logFailure, CancellationToken leave)
    {
        using var callCts = new CancellationTokenSource();
        // Leaving gives the call LeaveTimeout to end by itself (the worker answers what it has), then cancels it.
        using var hardStop = _time.CreateTimer(static s => CancelQuietly((CancellationTokenSource)s!), callCts, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        using var onLeave = leave.Register(static s => ((ITimer)s!).Change(LeaveTimeout, Timeout.InfiniteTimeSpan), hardStop);
        AsyncDuplexStreamingCall<StreamEventsRequest, StreamEventsResponse>? call = null;
        Task? hello = null;
        Task? reader = null;
        Task? writer = null;
        var opened = false;
        try
        {
            call = _calls.StreamEvents(callCts.Token);
            hello = call.RequestStream.WriteAsync(new StreamEventsRequest { GatewayId = gatewayId, GatewayAddress = gatewayAddress }, callCts.Token);
            await hello.WaitAsync(OpenTimeout, _time, leave).ConfigureAwait(false);
            await call.ResponseHeadersAsync.WaitAsync(OpenTimeout, _time, leave).ConfigureAwait(false);
            Interlocked.Increment(ref _generation);
            Queue.Open();
            opened = true;
            _owner.LinkStateChanged();
            Log.LinkOpen(_logger, WorkerId, Address);
            reader = ReadCommandsAsync(call.ResponseStream, callCts.Token);
            writer = WriteEventsAsync(call.RequestStream, leave, callCts.Token);
            var first = await Task.WhenAny(reader, writer).ConfigureAwait(false);
            if (first == writer && writer.IsCompletedSuccessfully)
            {
                // Leaving: the writer stopped between batches. Half-close, and apply the commands and acks the worker
                // still sends for what it has (the hard stop cancels the call after LeaveTimeout). The queue stays
                // open meanwhile (no new connection is pinned here): when the stream ends, what the worker did not
                // acknowledge and what was posted meanwhile move together, in order, to other workers.
                await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                await reader.ConfigureAwait(false);
                Log.LinkLeft(_logger, WorkerId);
                return StreamEnd.Left;
            }
            await first.ConfigureAwait(false); // surfaces the failure
            throw new RpcException(new Status(StatusCode.Unavailable, "the worker ended the stream"));
        }
        catch (Exception ex) when (leave.IsCancellationRequested && ex is OperationCanceledException or RpcException or IOException or InvalidOperationException or TimeoutException)
        {
            return StreamEnd.Left; // removed while connecting, or the leave was cut short after LeaveTimeout
        }
        catch (Exception ex) when (!leave.IsCancellationRequested)
        {
            if (opened || logFailure)
            {
                Log.LinkFailed(_logger, WorkerId, Address, ex.Message);
            }
            return opened ? StreamEnd.FailedAfterOpen : StreamEnd.FailedToOpen;
        }
        finally
        {
            await callCts.CancelAsync().ConfigureAwait(false);
            // Every operation on the call must have ended before the queue is closed: the writer must not finish a
            // batch after its events were handed to another worker.
            await EndedAsync(hello).ConfigureAwait(false);
            await EndedAsync(reader).ConfigureAwait(false);
            await EndedAsync(writer).ConfigureAwait(false);
            if (opened)
            {
                _owner.CloseAndReroute(this);
                _owner.LinkStateChanged();
            }
            call?.Dispose();
        }
    }

    private static void CancelQuietly(CancellationTokenSource cts)
    {
        try
        {
            cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static async Task EndedAsync(Task? loop)
    {
        if (loop is null)
        {
            return;
        }
        try
        {
            await loop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException or InvalidOperationException)
        {
            // the call was cancelled or failed: already handled by the caller
        }
    }

    // Returns normally when the link leaves; throws when the call fails.
    private async Task WriteEventsAsync(IClientStreamWriter<StreamEventsRequest> stream, CancellationToken leave, CancellationToken ct)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(leave, ct);
        while (true)
        {
            try
            {
                if (!await Queue.WaitToReadAsync(either.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (leave.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                return;
            }
            if (leave.IsCancellationRequested)
            {
                return;
            }
            var batch = new StreamEventsRequest();
            Queue.TakeBatch(batch.Events, MaxBatch, MaxBatchBytes);
            await stream.WriteAsync(batch, ct).ConfigureAwait(false);
            Queue.Written();
        }
    }

    private async Task ReadCommandsAsync(IAsyncStreamReader<StreamEventsResponse> stream, CancellationToken ct)
    {
        while (await stream.MoveNext(ct).ConfigureAwait(false))
        {
            var response = stream.Current;
            foreach (var command in response.Commands)
            {
                _owner.Apply(this, command);
            }
            // After the commands: an acknowledged event's commands came in this message or an earlier one.
            if (response.Ack != 0 && !Queue.Ack(response.Ack))
            {
                _owner.AckIgnored(this, response.Ack);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3101, LogLevel.Information, "Worker stream to {WorkerId} at {Address} is open.", EventName = "LinkOpen")]
        public static partial void LinkOpen(ILogger logger, string workerId, string address);

        [LoggerMessage(3102, LogLevel.Warning, "Worker stream to {WorkerId} at {Address} failed: {Reason}. Its connections move to other workers; retrying.", EventName = "LinkFailed")]
        public static partial void LinkFailed(ILogger logger, string workerId, string address, string reason);

        [LoggerMessage(3103, LogLevel.Information, "Worker {WorkerId} left the cluster; its stream is closed.", EventName = "LinkClosed")]
        public static partial void LinkClosed(ILogger logger, string workerId);

        [LoggerMessage(3104, LogLevel.Information, "Worker {WorkerId} is leaving: its stream was half-closed and it answered every event it had; its connections move to other workers.", EventName = "LinkLeft")]
        public static partial void LinkLeft(ILogger logger, string workerId);
    }
}
