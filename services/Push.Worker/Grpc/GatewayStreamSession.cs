using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Push.Control;
using Push.V1;
using Push.Worker.Diagnostics;

namespace Push.Worker.Grpc;

/// <summary>
/// One gateway's stream on this worker. Events are spread over <see cref="EventLanes"/> by client id; commands go
/// back through one <see cref="CommandQueue"/> (bounded by count and bytes) and one <see cref="CommandWriter"/>.
/// When the gateway half-closes, or the worker stops reading at its drain timeout, every event already received is
/// answered and the commands are flushed. When the call ends or fails (the gateway died, a write failed), the lanes
/// stop between two events: what they still hold is counted in push.worker.events.unhandled and the commands that
/// could not be sent in push.worker.commands.dropped, and the session ends without waiting for the gateway.
/// </summary>
internal sealed partial class GatewayStreamSession
{
    private readonly BusinessEvents _events;
    private readonly GatewayClients _gateways;
    private readonly ILogger _logger;
    private readonly WorkerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly EventLanes _lanes;
    private readonly CommandQueue _commands;
    private readonly CommandWriter _writer;
    private readonly AckWindow _acks = new();
    private readonly HandledSeqs _handled;
    private readonly CommandDropLog _queueFullLog;
    private readonly CommandDropLog _streamEndedLog;
    private readonly CommandDropLog _tooLargeLog;
    private readonly ConcurrentDictionary<string, ClientContext> _clients = new(StringComparer.Ordinal);
    private string _gatewayId = string.Empty;
    private PushControlClient? _control;
    private CancellationToken _callEnded;
    private CancellationToken _stopReading;
    private CancellationToken _stopHandling;
    private string? _failure;
    private int _unhandled;
    private int _dropped;

    public GatewayStreamSession(BusinessEvents events, GatewayClients gateways, WorkerOptions options, WorkerMetrics metrics, TimeProvider time, ILogger logger, HandledSeqs? handled = null)
    {
        _handled = handled ?? new HandledSeqs();
        _metrics = metrics;
        _events = events;
        _gateways = gateways;
        _time = time;
        _logger = logger;
        _lanes = new EventLanes(options.Concurrency, options.QueueCapacity, options.EventQueueBytes, metrics);
        _commands = new CommandQueue(options.QueueCapacity, options.CommandQueueBytes, MaxCommandBytes);
        _writer = new CommandWriter(_commands, options.CommandBatchBytes, metrics, Dropped, _acks, time, Acked);
        _queueFullLog = new CommandDropLog(logger, time, DropReasons.QueueFull);
        _streamEndedLog = new CommandDropLog(logger, time, DropReasons.StreamEnded);
        _tooLargeLog = new CommandDropLog(logger, time, DropReasons.TooLarge);
    }

    /// <summary>
    /// Largest command sent: a message of commands larger than the gateway's receive limit (a batch plus one item)
    /// would fail the whole stream, so a command that could not travel even alone is dropped and counted instead.
    /// </summary>
    public const int MaxCommandBytes = Push.Hosting.GrpcLimits.StreamReceiveBytes - 64;

    /// <summary>Id of the gateway (from its first message; the clients' <see cref="ClientContext.GatewayId"/>).</summary>
    internal string GatewayId => _gatewayId;

    /// <summary>The control API of the gateway (set with its first message, before any event is handled).</summary>
    internal PushControlClient Control => _control!;

    /// <summary>The stream's command queue (tests look at it).</summary>
    internal CommandQueue Commands => _commands;

    /// <summary>The stream's lanes (tests look at them).</summary>
    internal EventLanes Lanes => _lanes;

    /// <summary>The stream's acknowledgement watermark (tests look at it).</summary>
    internal AckWindow Acks => _acks;

    /// <summary>
    /// Runs until the gateway half-closes or the call ends. <paramref name="stopReading"/> (the drain timeout) stops
    /// reading: the events already read are still answered. <paramref name="stopHandling"/> (the end of the drain)
    /// and <paramref name="callEnded"/> stop the lanes too.
    /// </summary>
    public async Task RunAsync(IAsyncStreamReader<StreamEventsRequest> requests, IServerStreamWriter<StreamEventsResponse> responses, CancellationToken callEnded, CancellationToken stopReading = default, CancellationToken stopHandling = default)
    {
        (_callEnded, _stopReading, _stopHandling) = (callEnded, stopReading, stopHandling);
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(callEnded, stopHandling);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(ended.Token, stopReading);
        _metrics.StreamOpened();
        _lanes.Start(HandleAsync, ex => Fail(ended, "a lane failed", ex), ended.Token);
        var writer = RunWriterAsync(responses, ended);
        var graceful = false;
        try
        {
            await ReadAsync(requests, reading.Token).ConfigureAwait(false);
            graceful = true;
        }
        catch (OperationCanceledException) when (reading.IsCancellationRequested)
        {
            // At the drain timeout the session stops reading but answers what it has; otherwise the call is over.
            graceful = !ended.IsCancellationRequested;
        }
        catch (Exception ex) when (ex is IOException or RpcException or InvalidOperationException)
        {
            Fail(ended, "reading the stream failed", ex);
        }
        finally
        {
            if (!graceful)
            {
                Fail(ended, callEnded.IsCancellationRequested ? "the call ended" : stopHandling.IsCancellationRequested ? "the worker stopped" : "reading the stream failed", null);
            }
            _lanes.Complete();
            await _lanes.Completion.ConfigureAwait(false);
            _commands.Complete();
            await writer.ConfigureAwait(false);
            Unhandled(_lanes.DiscardQueued());
            var left = _commands.Clear();
            _metrics.CommandsQueued(-left);
            Dropped(left);
            _queueFullLog.Flush(_gatewayId);
            _streamEndedLog.Flush(_gatewayId);
            _tooLargeLog.Flush(_gatewayId);
            // Their redelivered events may come on another stream: what this one handled stays known for a while.
            _handled.Orphan(_clients.Keys, this);
            _metrics.StreamClosed();
            if (_failure is null)
            {
                Log.GatewayDetached(_logger, _gatewayId);
            }
            else
            {
                Log.GatewayStreamBroken(_logger, _gatewayId, _failure, Volatile.Read(ref _unhandled), Volatile.Read(ref _dropped));
            }
        }
    }

    private async Task ReadAsync(IAsyncStreamReader<StreamEventsRequest> requests, CancellationToken cancellationToken)
    {
        while (await requests.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            var batch = requests.Current;
            if (_control is null)
            {
                _gatewayId = batch.GatewayId;
                _control = _gateways.Get(batch.GatewayAddress);
                Log.GatewayAttached(_logger, _gatewayId, batch.GatewayAddress);
            }
            var events = batch.Events;
            for (var i = 0; i < events.Count; i++)
            {
                try
                {
                    await _lanes.PostAsync(events[i], _acks.Next(), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    Unhandled(events.Count - i);
                    throw;
                }
            }
        }
    }

    private async Task RunWriterAsync(IServerStreamWriter<StreamEventsResponse> responses, CancellationTokenSource ended)
    {
        try
        {
            await _writer.RunAsync(responses, ended.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
            // the session ends: the lanes are stopping too
        }
        catch (Exception ex) when (ex is IOException or RpcException or InvalidOperationException or OperationCanceledException)
        {
            Fail(ended, "writing to the stream failed", ex);
        }
    }

    /// <summary>Records the first cause of an abrupt end and stops the lanes and the writer.</summary>
    private void Fail(CancellationTokenSource ended, string cause, Exception? ex)
    {
        Interlocked.CompareExchange(ref _failure, ex is null ? cause : $"{cause}: {ex.GetType().Name}: {ex.Message}", null);
        if (ex is not null && cause == "a lane failed")
        {
            Log.LaneFailed(_logger, _gatewayId, ex);
        }
        ended.Cancel();
    }

    /// <summary>Counts events read but never given to a callback: the worker stopped them, or the stream ended.</summary>
    private void Unhandled(int count)
    {
        Interlocked.Add(ref _unhandled, count);
        var stopping = !_callEnded.IsCancellationRequested && (_stopReading.IsCancellationRequested || _stopHandling.IsCancellationRequested);
        _metrics.EventsUnhandled(count, stopping ? DropReasons.WorkerStopping : DropReasons.StreamEnded);
    }

    /// <summary>Queues the commands of a callback in order, waiting for room; those that cannot be sent are counted.</summary>
    private async ValueTask SendAsync(Command[] commands, CancellationToken cancellationToken)
    {
        for (var i = 0; i < commands.Length; i++)
        {
            CommandAdmission admission;
            try
            {
                admission = await _commands.WriteAsync(commands[i], cancellationToken, wake: false).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Dropped(commands.Length - i);
                throw;
            }
            if (admission == CommandAdmission.Queued)
            {
                _metrics.CommandsQueued(1);
            }
            else if (admission == CommandAdmission.TooLarge)
            {
                TooLarge();
            }
            else if (admission == CommandAdmission.Closed)
            {
                Dropped(commands.Length - i);
                return;
            }
        }
    }

    private void Dropped(int count)
    {
        Interlocked.Add(ref _dropped, count);
        _metrics.CommandsDropped(count, DropReasons.StreamEnded);
    }

    private void TooLarge()
    {
        _metrics.CommandsDropped(1, DropReasons.TooLarge);
        _tooLargeLog.Dropped(_gatewayId);
    }

    /// <summary>A command made outside a callback (a timer, another client's callback): queued now or counted.</summary>
    internal void SendOutsideCallback(Command command)
    {
        switch (_commands.TryWrite(command))
        {
            case CommandAdmission.Full:
                _metrics.CommandsDropped(1, DropReasons.QueueFull);
                _queueFullLog.Dropped(_gatewayId);
                break;
            case CommandAdmission.Closed:
                _metrics.CommandsDropped(1, DropReasons.StreamEnded);
                _streamEndedLog.Dropped(_gatewayId);
                break;
            case CommandAdmission.TooLarge:
                TooLarge();
                break;
            default:
                _metrics.CommandsQueued(1);
                break;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(4001, LogLevel.Information, "Gateway {GatewayId} at {Address} attached its stream.", EventName = "GatewayAttached")]
        public static partial void GatewayAttached(ILogger logger, string gatewayId, string address);

        [LoggerMessage(4002, LogLevel.Information, "Gateway {GatewayId} detached its stream.", EventName = "GatewayDetached")]
        public static partial void GatewayDetached(ILogger logger, string gatewayId);

        [LoggerMessage(4003, LogLevel.Error, "{Kind} callback for client {ClientId} threw.", EventName = "CallbackFailed")]
        public static partial void CallbackFailed(ILogger logger, string kind, string clientId, Exception exception);

        [LoggerMessage(4004, LogLevel.Warning, "The stream of gateway {GatewayId} ended abruptly ({Cause}): {Unhandled} event(s) left unhandled, {Dropped} command(s) not sent.", EventName = "GatewayStreamBroken")]
        public static partial void GatewayStreamBroken(ILogger logger, string gatewayId, string cause, int unhandled, int dropped);

        [LoggerMessage(4005, LogLevel.Error, "An event lane of the stream of gateway {GatewayId} failed; the stream ends.", EventName = "LaneFailed")]
        public static partial void LaneFailed(ILogger logger, string gatewayId, Exception exception);
    }
}
