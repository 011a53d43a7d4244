using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Workers;

/// <summary>
/// The gateway's stream to one business worker: one bounded channel of events, one writer loop that packs every
/// queued event (up to 256) into one message, one reader loop that applies the worker's commands.
/// Reconnects every second while the worker is a member; queued events move to other workers when it fails.
/// When the worker leaves the cluster (it deregistered, e.g. on SIGTERM) the link leaves gracefully: no new events,
/// queued ones move to other workers, the request stream is half-closed and the commands of the events the worker
/// already has are still applied until it ends the stream (at most <see cref="LeaveTimeout"/>).
/// </summary>
internal sealed partial class WorkerLink : IDisposable
{
    private const int MaxBatch = 256;

    /// <summary>How long a leaving worker gets to answer the events it already has.</summary>
    public static readonly TimeSpan LeaveTimeout = TimeSpan.FromSeconds(5);

    private readonly Channel<Event> _events;
    private readonly CancellationTokenSource _leave = new();
    private readonly WorkerRouter _router;
    private readonly ILogger _logger;
    private readonly ClusterOptions _cluster;
    private int _assigned;

    public WorkerLink(Member worker, int capacity, WorkerRouter router, ClusterOptions cluster, ILogger logger)
    {
        WorkerId = worker.Id;
        Address = worker.Address;
        _router = router;
        _cluster = cluster;
        _logger = logger;
        _events = Channel.CreateBounded<Event>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string WorkerId { get; }
    public string Address { get; }
    public volatile bool IsOpen;
    public bool IsRemoved => _leave.IsCancellationRequested;
    public int Assigned => Volatile.Read(ref _assigned);
    public int QueueDepth => _events.Reader.CanCount ? _events.Reader.Count : 0;

    public void AddAssigned(int delta) => Interlocked.Add(ref _assigned, delta);

    public bool TryPost(Event e) => _events.Writer.TryWrite(e);

    public ValueTask PostAsync(Event e, CancellationToken ct) => _events.Writer.WriteAsync(e, ct);

    /// <summary>Starts the graceful leave (the worker is no longer a member).</summary>
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

    public void Dispose() => _leave.Dispose();

    public async Task RunAsync(string gatewayId, string gatewayAddress)
    {
        var leave = _leave.Token;
        using var channel = PushChannel.Create(Address, _cluster);
        var client = new BusinessService.BusinessServiceClient(PushChannel.Invoker(channel, _cluster.Secret));
        var failures = 0;
        while (!leave.IsCancellationRequested)
        {
            using var callCts = new CancellationTokenSource();
            // Leaving gives the call LeaveTimeout to end by itself, then cancels it.
            using var hardStop = leave.Register(static s => ((CancellationTokenSource)s!).CancelAfter(LeaveTimeout), callCts);
            try
            {
                using var call = client.StreamEvents(cancellationToken: callCts.Token);
                await call.RequestStream.WriteAsync(new StreamEventsRequest { GatewayId = gatewayId, GatewayAddress = gatewayAddress }, callCts.Token).ConfigureAwait(false);
                await call.ResponseHeadersAsync.WaitAsync(TimeSpan.FromSeconds(5), leave).ConfigureAwait(false);
                IsOpen = true;
                failures = 0;
                _router.LinkStateChanged();
                Log.LinkOpen(_logger, WorkerId, Address);
                var reader = ReadCommandsAsync(call.ResponseStream, callCts.Token);
                var writer = WriteEventsAsync(call.RequestStream, leave, callCts.Token);
                var first = await Task.WhenAny(reader, writer).ConfigureAwait(false);
                if (first == writer && writer.IsCompletedSuccessfully)
                {
                    // Leaving: route new and queued events elsewhere, half-close, apply the commands still coming.
                    IsOpen = false;
                    _router.LinkStateChanged();
                    _router.Reroute(this, DrainQueued());
                    await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                    await reader.ConfigureAwait(false);
                    Log.LinkLeft(_logger, WorkerId);
                    break;
                }
                await callCts.CancelAsync().ConfigureAwait(false);
                await first.ConfigureAwait(false); // surfaces the failure
                throw new RpcException(new Status(StatusCode.Unavailable, "worker stream ended"));
            }
            catch (Exception ex) when (!leave.IsCancellationRequested)
            {
                var wasOpen = IsOpen;
                IsOpen = false;
                _router.LinkStateChanged();
                if (wasOpen || failures == 0)
                {
                    Log.LinkFailed(_logger, WorkerId, Address, ex.Message);
                }
                failures++;
                _router.Reroute(this, DrainQueued());
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(failures, 2) * 0.5), leave).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException or InvalidOperationException)
            {
                // leaving: the call ended or was cancelled after LeaveTimeout
            }
        }
        IsOpen = false;
        _router.LinkStateChanged();
        _router.Reroute(this, DrainQueued());
        Log.LinkClosed(_logger, WorkerId);
        Dispose();
    }

    private List<Event> DrainQueued()
    {
        var list = new List<Event>();
        while (_events.Reader.TryRead(out var e))
        {
            list.Add(e);
        }
        return list;
    }

    // Returns normally when the link leaves; throws when the call fails.
    private async Task WriteEventsAsync(IClientStreamWriter<StreamEventsRequest> stream, CancellationToken leave, CancellationToken ct)
    {
        var reader = _events.Reader;
        while (true)
        {
            try
            {
                if (!await reader.WaitToReadAsync(leave).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (leave.IsCancellationRequested)
            {
                return;
            }
            if (leave.IsCancellationRequested)
            {
                return;
            }
            var batch = new StreamEventsRequest();
            while (batch.Events.Count < MaxBatch && reader.TryRead(out var e))
            {
                batch.Events.Add(e);
            }
            if (batch.Events.Count > 0)
            {
                await stream.WriteAsync(batch, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task ReadCommandsAsync(IAsyncStreamReader<StreamEventsResponse> stream, CancellationToken ct)
    {
        while (await stream.MoveNext(ct).ConfigureAwait(false))
        {
            foreach (var command in stream.Current.Commands)
            {
                _router.Apply(this, command);
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
