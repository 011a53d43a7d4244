using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Push.Control;
using Push.V1;
using Push.Worker.Diagnostics;

namespace Push.Worker.Grpc;

/// <summary>
/// One gateway's stream on this worker. Events are spread over lanes by client id (so each client's events run in
/// order, different clients in parallel); commands go back through one bounded channel and one writer loop that
/// packs every queued command (up to 256) into one message.
/// </summary>
internal sealed partial class GatewayStreamSession
{
    private const int MaxBatch = 256;
    private readonly BusinessEvents _events;
    private readonly GatewayClients _gateways;
    private readonly ILogger _logger;
    private readonly WorkerMetrics _metrics;
    private readonly Channel<Command> _out;
    private readonly Channel<Event>[] _lanes;
    private readonly ConcurrentDictionary<string, ClientState> _clients = new(StringComparer.Ordinal);
    private string _gatewayId = string.Empty;
    private PushControlClient? _control;

    public GatewayStreamSession(BusinessEvents events, GatewayClients gateways, WorkerOptions options, WorkerMetrics metrics, ILogger logger)
    {
        _metrics = metrics;
        _events = events;
        _gateways = gateways;
        _logger = logger;
        _out = Channel.CreateBounded<Command>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _lanes = new Channel<Event>[options.Concurrency];
        for (var i = 0; i < _lanes.Length; i++)
        {
            _lanes[i] = Channel.CreateBounded<Event>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        }
    }

    /// <summary>Runs until the gateway half-closes (or the call ends); <paramref name="stopReading"/> ends it early, after the events already read are answered.</summary>
    public async Task RunAsync(IAsyncStreamReader<StreamEventsRequest> requests, IServerStreamWriter<StreamEventsResponse> responses, CancellationToken stopReading, CancellationToken ct)
    {
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(ct, stopReading);
        _metrics.StreamOpened();
        var writer = WriteAsync(responses, ct);
        var lanes = _lanes.Select(l => Task.Run(() => LaneAsync(l.Reader), CancellationToken.None)).ToArray();
        try
        {
            while (await requests.MoveNext(reading.Token).ConfigureAwait(false))
            {
                var batch = requests.Current;
                if (_control is null)
                {
                    _gatewayId = batch.GatewayId;
                    _control = _gateways.Get(batch.GatewayAddress);
                    Log.GatewayAttached(_logger, _gatewayId, batch.GatewayAddress);
                }
                foreach (var e in batch.Events)
                {
                    var lane = _lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(e.ClientId) % (uint)_lanes.Length)];
                    if (!lane.Writer.TryWrite(e))
                    {
                        await lane.Writer.WriteAsync(e, ct).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException || ex is RpcException { StatusCode: StatusCode.Cancelled })
        {
        }
        finally
        {
            foreach (var l in _lanes)
            {
                l.Writer.TryComplete();
            }
            await Task.WhenAll(lanes).ConfigureAwait(false);
            _out.Writer.TryComplete();
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or RpcException)
            {
            }
            _metrics.StreamClosed();
            Log.GatewayDetached(_logger, _gatewayId);
        }
    }

    private async Task WriteAsync(IServerStreamWriter<StreamEventsResponse> responses, CancellationToken ct)
    {
        var reader = _out.Reader;
        while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            var batch = new StreamEventsResponse();
            while (batch.Commands.Count < MaxBatch && reader.TryRead(out var c))
            {
                batch.Commands.Add(c);
            }
            if (batch.Commands.Count > 0)
            {
                _metrics.Commands(batch.Commands.Count);
                await responses.WriteAsync(batch, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task LaneAsync(ChannelReader<Event> reader)
    {
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var e))
            {
                await HandleAsync(e).ConfigureAwait(false);
            }
        }
    }

    private async Task HandleAsync(Event e)
    {
        if (e.KindCase == Event.KindOneofCase.Close && e.Close.HandshakeAbandoned && !_clients.ContainsKey(e.ClientId))
        {
            return; // a handshake this worker rejected: the client never existed for the application
        }
        var state = _clients.GetOrAdd(e.ClientId, static (id, s) => new ClientState(id, s), this);
        var authorize = e.KindCase == Event.KindOneofCase.Connect && e.Connect.Authorize;
        state.Context.CanRejectHandshake = authorize;
        if (e.Session is not null)
        {
            state.Context.Session.Replace(e.Session.Values);
            state.Context.Session.ResetChanges();
        }
        state.Context.ObserveUid(e.Uid.Length > 0 ? e.Uid : null);
        using var activity = e.Traceparent.Length > 0 || WorkerMetrics.Source.HasListeners()
            ? WorkerMetrics.Source.StartActivity("push.worker." + e.KindCase.ToString().ToLowerInvariant(), System.Diagnostics.ActivityKind.Consumer, e.Traceparent.Length > 0 ? e.Traceparent : null)
            : null;
        state.InCallback = true;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var failed = false;
        try
        {
            switch (e.KindCase)
            {
                case Event.KindOneofCase.Connect:
                    var ce = e.Connect;
                    await _events.OnConnectAsync(state.Context).ConfigureAwait(false);
                    await _events.OnWebSocketConnectAsync(state.Context, new Handshake
                    {
                        Path = ce.Path,
                        QueryString = ce.Query,
                        Headers = ce.Headers,
                        RemoteAddress = ce.RemoteAddress,
                        RemotePort = ce.RemotePort,
                        GatewayEndpoint = ce.GatewayEndpoint,
                    }).ConfigureAwait(false);
                    break;
                case Event.KindOneofCase.Message:
                    var m = e.Message;
                    await _events.OnMessageAsync(state.Context, m.DataCase == MessageEvent.DataOneofCase.Text ? new ClientMessage(m.Text, default) : new ClientMessage(null, m.Binary.Memory)).ConfigureAwait(false);
                    break;
                case Event.KindOneofCase.Close:
                    await _events.OnCloseAsync(state.Context, e.Close.Code, e.Close.Reason).ConfigureAwait(false);
                    break;
                default:
                    break;
            }
        }
        catch (Exception ex)
        {
            failed = true;
            Log.CallbackFailed(_logger, e.KindCase.ToString(), e.ClientId, ex);
        }
        finally
        {
            state.InCallback = false;
            state.Context.CanRejectHandshake = false;
            _metrics.Event(e.KindCase switch
            {
                Event.KindOneofCase.Connect => "connect",
                Event.KindOneofCase.Message => "message",
                Event.KindOneofCase.Close => "close",
                _ => "other",
            }, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, failed);
        }
        if (e.KindCase == Event.KindOneofCase.Close)
        {
            _clients.TryRemove(e.ClientId, out _);
            state.Pending.Clear();
            return;
        }
        if (authorize)
        {
            // The gateway holds the client's handshake until this answer; it must precede every other command for it.
            var rejection = state.Context.Rejection ?? (failed ? (500, "the application failed to authorize the handshake") : null);
            if (rejection is { } r)
            {
                _clients.TryRemove(e.ClientId, out _);
                state.Pending.Clear();
                await WriteCommandAsync(new Command { ClientId = e.ClientId, RejectHandshake = new RejectHandshakeCommand { Status = r.Status, Reason = r.Reason } }).ConfigureAwait(false);
                return;
            }
            await WriteCommandAsync(new Command { ClientId = e.ClientId, AcceptHandshake = new AcceptHandshakeCommand() }).ConfigureAwait(false);
        }
        var session = state.Context.Session;
        if (session.Dirty)
        {
            // Only the keys this callback set are merged, so a concurrent UpdateSession from the control API on other
            // keys is not overwritten; a removal needs the whole session replaced.
            if (session.Removed || session.Changed is null)
            {
                state.Pending.Add(new Command { ClientId = e.ClientId, SetSession = new SetSessionCommand { Session = { session.Values } } });
            }
            else
            {
                var update = new UpdateSessionCommand();
                foreach (var k in session.Changed)
                {
                    if (session.TryGetValue(k, out var v))
                    {
                        update.Session[k] = v;
                    }
                }
                state.Pending.Add(new Command { ClientId = e.ClientId, UpdateSession = update });
            }
            session.ResetChanges();
        }
        foreach (var c in state.Pending)
        {
            await WriteCommandAsync(c).ConfigureAwait(false);
        }
        state.Pending.Clear();
    }

    private ValueTask WriteCommandAsync(Command c) => _out.Writer.TryWrite(c) ? ValueTask.CompletedTask : _out.Writer.WriteAsync(c);

    private sealed class ClientState
    {
        public ClientState(string clientId, GatewayStreamSession owner)
        {
            Context = new ClientContext(clientId, owner._gatewayId, new ClientSession(), owner._control!, c =>
            {
                if (InCallback)
                {
                    Pending.Add(c);
                }
                else
                {
                    owner._out.Writer.TryWrite(c);
                }
            });
        }

        public ClientContext Context { get; }
        public List<Command> Pending { get; } = [];
        public volatile bool InCallback;
    }

    private static partial class Log
    {
        [LoggerMessage(4001, LogLevel.Information, "Gateway {GatewayId} at {Address} attached its stream.", EventName = "GatewayAttached")]
        public static partial void GatewayAttached(ILogger logger, string gatewayId, string address);

        [LoggerMessage(4002, LogLevel.Information, "Gateway {GatewayId} detached its stream.", EventName = "GatewayDetached")]
        public static partial void GatewayDetached(ILogger logger, string gatewayId);

        [LoggerMessage(4003, LogLevel.Error, "{Kind} callback for client {ClientId} threw.", EventName = "CallbackFailed")]
        public static partial void CallbackFailed(ILogger logger, string kind, string clientId, Exception exception);
    }
}
