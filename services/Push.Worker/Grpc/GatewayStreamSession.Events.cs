using Push.V1;
using Push.Worker.Diagnostics;

namespace Push.Worker.Grpc;

/// <summary>The callbacks of one event, and the commands they made; its acknowledgement once they are queued.</summary>
internal sealed partial class GatewayStreamSession
{
    /// <summary>Handles the stream's event <paramref name="number"/>; once its commands are queued, it counts for the ack.</summary>
    /// <remarks>
    /// The callback's commands are queued without waking the writer; the ack watermark moves first, then the writer is
    /// woken, so one message carries the commands and the ack that covers them, instead of the commands at once and the
    /// ack alone (a 5 ms timer per quiet spell) or with the next event's.
    /// </remarks>
    private async ValueTask HandleAsync(Event e, ulong number, CancellationToken cancellationToken)
    {
        try
        {
            var outcome = await HandleEventAsync(e, cancellationToken).ConfigureAwait(false);
            _acks.Complete(number, _commands.Admitted, e.Seq == 0 ? null : new AckWindow.Handled(e.ClientId, e.Seq, outcome), notify: false);
        }
        finally
        {
            if (!_commands.Wake())
            {
                _acks.Notify(); // no command to carry the ack: the writer sends it on its own (after AckDelay)
            }
        }
    }

    /// <summary>An ack was written: what its events did is known to <see cref="HandledSeqs"/> (for redeliveries).</summary>
    private void Acked(List<AckWindow.Handled> covered)
    {
        foreach (var h in covered)
        {
            switch (h.Outcome)
            {
                case AckWindow.Outcome.Closed:
                    _handled.Forget(h.ClientId);
                    break;
                case AckWindow.Outcome.Moved:
                    _handled.Record(h.ClientId, h.Seq, this);
                    _handled.Orphan([h.ClientId], this);
                    break;
                default:
                    _handled.Record(h.ClientId, h.Seq, this);
                    break;
            }
        }
    }

    private async ValueTask<AckWindow.Outcome> HandleEventAsync(Event e, CancellationToken cancellationToken)
    {
        if (e.KindCase == Event.KindOneofCase.Close && e.Close.HandshakeAbandoned && !_clients.ContainsKey(e.ClientId))
        {
            return AckWindow.Outcome.Closed; // a handshake this worker rejected: the client never existed for the application
        }
        if (e.KindCase == Event.KindOneofCase.Moved)
        {
            // The client resumed on another gateway: nothing closed, its state here is released without OnClose.
            if (_clients.TryRemove(e.ClientId, out var moved))
            {
                moved.ClearPending();
            }
            _metrics.Event("moved", 0, failed: false);
            return AckWindow.Outcome.Moved;
        }
        if (e.Redelivered && _handled.Handled(e.ClientId, e.Seq))
        {
            // This worker ran it already (its ack was written, the gateway did not get it): acknowledged, not run again.
            _metrics.EventDeduplicated();
            if (e.KindCase == Event.KindOneofCase.Close && _clients.TryRemove(e.ClientId, out var closed))
            {
                closed.ClearPending();
            }
            return e.KindCase == Event.KindOneofCase.Close ? AckWindow.Outcome.Closed : AckWindow.Outcome.Handled;
        }
        if (e.Redelivered)
        {
            _metrics.EventRedelivered();
        }
        // A resume may be the first this stream hears of the client (it reattached through this gateway): its state
        // is made from the event, with the full session it carries.
        var state = _clients.GetOrAdd(e.ClientId, static (id, s) => new ClientContext(id, s), this);
        state.Redelivered = e.Redelivered;
        state.EventSequence = e.Seq;
        var authorize = e.KindCase == Event.KindOneofCase.Connect && e.Connect.Authorize;
        state.CanRejectHandshake = authorize;
        if (e.Session is not null && (e.Session.Values.Count > 0 || state.SessionIfAny is not null))
        {
            // (an empty session from the gateway leaves a client that never used one without a ClientSession)
            state.Session.Replace(e.Session.Values);
            state.Session.ResetChanges();
        }
        state.ObserveUid(e.Uid.Length > 0 ? e.Uid : null);
        var failed = await RunCallbacksAsync(e, state).ConfigureAwait(false);
        if (e.KindCase == Event.KindOneofCase.Close)
        {
            _clients.TryRemove(e.ClientId, out _);
            state.ClearPending();
            return AckWindow.Outcome.Closed;
        }
        if (authorize)
        {
            // The gateway holds the client's handshake until this answer; it must precede every other command for it.
            var rejection = state.Rejection ?? (failed ? (500, "the application failed to authorize the handshake") : null);
            if (rejection is { } r)
            {
                _clients.TryRemove(e.ClientId, out _);
                state.ClearPending();
                await SendAsync([new Command { ClientId = e.ClientId, RejectHandshake = new RejectHandshakeCommand { Status = r.Status, Reason = r.Reason } }], cancellationToken).ConfigureAwait(false);
                return AckWindow.Outcome.Closed;
            }
            state.InsertPendingFirst(new Command { ClientId = e.ClientId, AcceptHandshake = new AcceptHandshakeCommand() });
        }
        var session = state.SessionIfAny;
        if (session is { Dirty: true })
        {
            // Only the keys this callback set are merged, so a concurrent UpdateSession from the control API on other
            // keys is not overwritten; a removal needs the whole session replaced.
            if (session.Removed || session.Changed is null)
            {
                state.AddPending(new Command { ClientId = e.ClientId, SetSession = new SetSessionCommand { Session = { session.Values } } });
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
                state.AddPending(new Command { ClientId = e.ClientId, UpdateSession = update });
            }
            session.ResetChanges();
        }
        if (state.PendingCount == 0)
        {
            return AckWindow.Outcome.Handled;
        }
        var pending = state.TakePending();
        await SendAsync(pending, cancellationToken).ConfigureAwait(false);
        return AckWindow.Outcome.Handled;
    }

    /// <summary>Runs the application's callbacks for one event; true when one threw (logged and counted).</summary>
    private async ValueTask<bool> RunCallbacksAsync(Event e, ClientContext state)
    {
        using var activity = e.Traceparent.Length > 0 || WorkerMetrics.Source.HasListeners()
            ? WorkerMetrics.Source.StartActivity("push.worker." + e.KindCase.ToString().ToLowerInvariant(), System.Diagnostics.ActivityKind.Consumer, e.Traceparent.Length > 0 ? e.Traceparent : null)
            : null;
        state.BeginCallback();
        var started = _time.GetTimestamp();
        var failed = false;
        try
        {
            switch (e.KindCase)
            {
                case Event.KindOneofCase.Connect:
                    var ce = e.Connect;
                    await _events.OnConnectAsync(state).ConfigureAwait(false);
                    await _events.OnWebSocketConnectAsync(state, new Handshake
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
                    await _events.OnMessageAsync(state, m.DataCase == MessageEvent.DataOneofCase.Text ? new ClientMessage(m.Text, default, e.Redelivered) : new ClientMessage(null, m.Binary.Memory, e.Redelivered)).ConfigureAwait(false);
                    break;
                case Event.KindOneofCase.Resume:
                    var re = e.Resume;
                    await _events.OnResumeAsync(state, new ResumeInfo
                    {
                        FromGatewayId = re.FromGatewayId,
                        Away = TimeSpan.FromMilliseconds(re.AwayMs),
                        Replayed = re.Replayed,
                        RemoteAddress = re.RemoteAddress,
                        RemotePort = re.RemotePort,
                        GatewayEndpoint = re.GatewayEndpoint,
                    }).ConfigureAwait(false);
                    break;
                case Event.KindOneofCase.Close:
                    await _events.OnCloseAsync(state, e.Close.Code, e.Close.Reason).ConfigureAwait(false);
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
            state.EndCallback();
            state.CanRejectHandshake = false;
            _metrics.Event(e.KindCase switch
            {
                Event.KindOneofCase.Connect => "connect",
                Event.KindOneofCase.Message => "message",
                Event.KindOneofCase.Close => "close",
                Event.KindOneofCase.Resume => "resume",
                _ => "other",
            }, _time.GetElapsedTime(started).TotalSeconds, failed);
        }
        return failed;
    }
}
