using Push.V1;
using Push.Worker.Diagnostics;

namespace Push.Worker.Grpc;

/// <summary>The callbacks of one event, and the commands they made.</summary>
internal sealed partial class GatewayStreamSession
{
    private async ValueTask HandleAsync(Event e, CancellationToken cancellationToken)
    {
        if (e.KindCase == Event.KindOneofCase.Close && e.Close.HandshakeAbandoned && !_clients.ContainsKey(e.ClientId))
        {
            return; // a handshake this worker rejected: the client never existed for the application
        }
        var state = _clients.GetOrAdd(e.ClientId, static (id, s) => new ClientState(id, s._gatewayId, s._control!, s.SendOutsideCallback), this);
        var authorize = e.KindCase == Event.KindOneofCase.Connect && e.Connect.Authorize;
        state.Context.CanRejectHandshake = authorize;
        if (e.Session is not null)
        {
            state.Context.Session.Replace(e.Session.Values);
            state.Context.Session.ResetChanges();
        }
        state.Context.ObserveUid(e.Uid.Length > 0 ? e.Uid : null);
        var failed = await RunCallbacksAsync(e, state).ConfigureAwait(false);
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
                await SendAsync([new Command { ClientId = e.ClientId, RejectHandshake = new RejectHandshakeCommand { Status = r.Status, Reason = r.Reason } }], cancellationToken).ConfigureAwait(false);
                return;
            }
            state.Pending.Insert(0, new Command { ClientId = e.ClientId, AcceptHandshake = new AcceptHandshakeCommand() });
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
        if (state.Pending.Count == 0)
        {
            return;
        }
        Command[] pending = [.. state.Pending];
        state.Pending.Clear();
        await SendAsync(pending, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the application's callbacks for one event; true when one threw (logged and counted).</summary>
    private async ValueTask<bool> RunCallbacksAsync(Event e, ClientState state)
    {
        using var activity = e.Traceparent.Length > 0 || WorkerMetrics.Source.HasListeners()
            ? WorkerMetrics.Source.StartActivity("push.worker." + e.KindCase.ToString().ToLowerInvariant(), System.Diagnostics.ActivityKind.Consumer, e.Traceparent.Length > 0 ? e.Traceparent : null)
            : null;
        state.InCallback = true;
        var started = _time.GetTimestamp();
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
            // The application's exception: logged and counted, the stream and the client's next events go on.
            failed = true;
            Log.CallbackFailed(_logger, e.KindCase.ToString(), e.ClientId, ex);
        }
        finally
        {
            lock (state.Pending)
            {
                // From here on, sends from other threads go out as commands outside a callback.
                state.InCallback = false;
            }
            state.Context.CanRejectHandshake = false;
            _metrics.Event(e.KindCase switch
            {
                Event.KindOneofCase.Connect => "connect",
                Event.KindOneofCase.Message => "message",
                Event.KindOneofCase.Close => "close",
                _ => "other",
            }, _time.GetElapsedTime(started).TotalSeconds, failed);
        }
        return failed;
    }
}
