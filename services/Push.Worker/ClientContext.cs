using Google.Protobuf;
using Push.Control;
using Push.V1;
using Push.Worker.Grpc;

namespace Push.Worker;

/// <summary>
/// The client an event is about, with the current-client shortcuts of GatewayWorker's Gateway class
/// (sendToCurrentClient, closeCurrentClient, bindUid, joinGroup...) and the whole control API in <see cref="Gateway"/>.
/// Current-client commands travel on the gateway's stream, in order with the events.
/// </summary>
/// <remarks>
/// One per client a worker holds, for as long as the client is connected: it is also the SDK's state of the client
/// (the commands of the running callback, ClientContext.Pending.cs), so that an idle client costs one object here
/// (the session is made when it is first used).
/// </remarks>
public sealed partial class ClientContext
{
    private readonly GatewayStreamSession _stream;
    private ClientSession? _session;

    internal ClientContext(string clientId, GatewayStreamSession stream)
    {
        ClientId = clientId;
        _stream = stream;
    }

    /// <summary>The client's id.</summary>
    public string ClientId { get; }

    /// <summary>Id of the gateway that holds the client.</summary>
    public string GatewayId => _stream.GatewayId;

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
    public ClientSession Session => _session ?? CreateSession();

    /// <summary>The session if it was used or the gateway sent one; null otherwise (empty).</summary>
    internal ClientSession? SessionIfAny => _session;

    private ClientSession CreateSession()
    {
        // A thread the callback started may read the session first: one instance wins.
        Interlocked.CompareExchange(ref _session, new ClientSession(), null);
        return _session;
    }

    /// <summary>The whole control API (any client, uid, group, queries), through the client's gateway.</summary>
    public PushControlClient Gateway => _stream.Control;

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
    internal (int Status, string Reason)? Rejection => _rejection is { } r ? (r.Status, r.Reason) : null;

    // A reference rather than the tuple itself: rare, and 16 bytes less on every client.
    private HandshakeRejection? _rejection;

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
        _rejection = new HandshakeRejection(status, reason ?? string.Empty);
    }

    /// <summary>Adds this client to a group.</summary>
    public void JoinGroup(string group) => Emit(new Command { JoinGroup = new JoinGroupCommand { Group = group } });

    /// <summary>Removes this client from a group.</summary>
    public void LeaveGroup(string group) => Emit(new Command { LeaveGroup = new LeaveGroupCommand { Group = group } });

    private void Emit(Command command)
    {
        command.ClientId = ClientId;
        if (!TryAddPending(command))
        {
            _stream.SendOutsideCallback(command);
        }
    }

    private sealed record HandshakeRejection(int Status, string Reason);
}
