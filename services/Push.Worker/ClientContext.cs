using Google.Protobuf;
using Push.Control;
using Push.V1;

namespace Push.Worker;

/// <summary>
/// The client an event is about, with the current-client shortcuts of GatewayWorker's Gateway class
/// (sendToCurrentClient, closeCurrentClient, bindUid, joinGroup...) and the whole control API in <see cref="Gateway"/>.
/// Current-client commands travel on the gateway's stream, in order with the events.
/// </summary>
public sealed class ClientContext
{
    private readonly Action<Command> _emit;

    internal ClientContext(string clientId, string gatewayId, ClientSession session, PushControlClient gateway, Action<Command> emit)
    {
        ClientId = clientId;
        GatewayId = gatewayId;
        Session = session;
        Gateway = gateway;
        _emit = emit;
    }

    /// <summary>The client's id.</summary>
    public string ClientId { get; }

    /// <summary>Id of the gateway that holds the client.</summary>
    public string GatewayId { get; }

    /// <summary>The uid the client is bound to, if any.</summary>
    public string? Uid { get; internal set; }

    // A bind/unbind issued here wins over the uid carried by events until an event confirms it (the gateway may build
    // the next event before it has applied the command).
    private bool _uidPending;
    private string? _pendingUid;

    internal void ObserveUid(string? fromEvent)
    {
        if (_uidPending)
        {
            if (string.Equals(fromEvent, _pendingUid, StringComparison.Ordinal))
            {
                _uidPending = false;
            }
            return;
        }
        Uid = fromEvent;
    }

    /// <summary>
    /// True during a callback whose event was sent before, to a worker whose stream ended before it acknowledged it
    /// (the worker died or its stream broke): that worker may have run the callback already. An event this worker
    /// handled itself is not run twice; one another worker ran may be.
    /// </summary>
    public bool Redelivered { get; internal set; }

    /// <summary>
    /// The sequence of the event being handled (Event.seq): 1 for the client's first event, then one more per event,
    /// kept across worker changes and resumes (0 from a gateway that does not number events). With
    /// <see cref="ClientId"/> it names the event, for an application that de-duplicates on its own.
    /// </summary>
    public ulong EventSequence { get; internal set; }

    /// <summary>The client's session; changes are written back when the callback returns.</summary>
    public ClientSession Session { get; }

    /// <summary>The whole control API (any client, uid, group, queries), through the client's gateway.</summary>
    public PushControlClient Gateway { get; }

    /// <summary>Sends a text message to this client.</summary>
    public void SendToCurrentClient(string message) => Emit(new Command { Send = new SendCommand { Text = message } });

    /// <summary>Sends a binary message to this client.</summary>
    public void SendToCurrentClient(ReadOnlySpan<byte> message) => Emit(new Command { Send = new SendCommand { Binary = ByteString.CopyFrom(message) } });

    /// <summary>Closes this client, optionally after a last text message.</summary>
    public void CloseCurrentClient(string? message = null, int code = 1000, string reason = "")
    {
        var close = new CloseCommand { Code = code, Reason = reason };
        if (message is not null)
        {
            close.Text = message;
        }
        Emit(new Command { Close = close });
    }

    /// <summary>Binds this client to a uid.</summary>
    public void BindUid(string uid)
    {
        Uid = uid;
        _uidPending = true;
        _pendingUid = uid;
        Emit(new Command { BindUid = new BindUidCommand { Uid = uid } });
    }

    /// <summary>Unbinds this client's uid.</summary>
    public void UnbindUid()
    {
        Emit(new Command { UnbindUid = new UnbindUidCommand { Uid = Uid ?? string.Empty } });
        Uid = null;
        _uidPending = true;
        _pendingUid = null;
    }

    /// <summary>
    /// True during <see cref="BusinessEvents.OnConnectAsync"/> and <see cref="BusinessEvents.OnWebSocketConnectAsync"/>
    /// when the gateway waits for this worker's decision before answering the client (Gateway:WorkerAuthorization).
    /// </summary>
    public bool CanRejectHandshake { get; internal set; }

    /// <summary>Set by <see cref="RejectHandshake"/>: the HTTP status and reason the client will be answered with.</summary>
    internal (int Status, string Reason)? Rejection { get; private set; }

    /// <summary>
    /// Refuses the client's WebSocket handshake: the gateway answers it with HTTP <paramref name="status"/> (400-599)
    /// instead of 101, the client never joins any table, group or uid, and no other callback (message, close) runs for
    /// it; every other command made for it in this callback is discarded. Only possible while
    /// <see cref="CanRejectHandshake"/> is true (a gateway with Gateway:WorkerAuthorization); a handshake that is not
    /// rejected is accepted when the connect callbacks return.
    /// </summary>
    public void RejectHandshake(int status = 403, string reason = "")
    {
        if (!CanRejectHandshake)
        {
            throw new InvalidOperationException("RejectHandshake is only possible in OnConnectAsync/OnWebSocketConnectAsync on a gateway with Gateway:WorkerAuthorization=true (the client is already connected otherwise; use CloseCurrentClient).");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(status, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(status, 599);
        Rejection = (status, reason ?? string.Empty);
    }

    /// <summary>Adds this client to a group.</summary>
    public void JoinGroup(string group) => Emit(new Command { JoinGroup = new JoinGroupCommand { Group = group } });

    /// <summary>Removes this client from a group.</summary>
    public void LeaveGroup(string group) => Emit(new Command { LeaveGroup = new LeaveGroupCommand { Group = group } });

    private void Emit(Command command)
    {
        command.ClientId = ClientId;
        _emit(command);
    }
}
