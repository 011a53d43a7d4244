namespace Push.Worker;

/// <summary>
/// The application's callbacks (GatewayWorker's Events class). Events of one client arrive in order, one at a time;
/// different clients are handled concurrently. Derive from this class and register it with AddPushWorker&lt;T&gt;().
/// Delivery is at least once: when a worker dies or its stream breaks, the events it had not acknowledged go to the
/// client's next worker flagged <see cref="ClientContext.Redelivered"/> (the SDK acknowledges after each callback and
/// skips a redelivered event this worker already handled), so a callback may see an event another worker ran.
/// </summary>
public abstract class BusinessEvents
{
    /// <summary>Once when the worker starts (onWorkerStart).</summary>
    public virtual Task OnWorkerStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Once when the worker stops (onWorkerStop).</summary>
    public virtual Task OnWorkerStopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A client connected (onConnect). Its handshake follows in <see cref="OnWebSocketConnectAsync"/>.</summary>
    public virtual ValueTask OnConnectAsync(ClientContext client) => ValueTask.CompletedTask;

    /// <summary>The client's WebSocket handshake: path, query, headers, remote address (onWebSocketConnect).</summary>
    public virtual ValueTask OnWebSocketConnectAsync(ClientContext client, Handshake handshake) => ValueTask.CompletedTask;

    /// <summary>The client sent a message (onMessage).</summary>
    public virtual ValueTask OnMessageAsync(ClientContext client, ClientMessage message) => ValueTask.CompletedTask;

    /// <summary>
    /// A resumable connection came back after its socket dropped (within Gateway:ResumeWindow): the same client, with
    /// its uid, groups and session (the session is the full one, as at connect). No <see cref="OnCloseAsync"/> or
    /// <see cref="OnConnectAsync"/> came for the drop. It may arrive on another gateway's stream than the client's
    /// earlier events (it reattached through another gateway): <see cref="ClientContext.GatewayId"/> is the new one.
    /// </summary>
    public virtual ValueTask OnResumeAsync(ClientContext client, ResumeInfo info) => ValueTask.CompletedTask;

    /// <summary>The client is gone (onClose). Its session is still readable; commands to it are ignored.</summary>
    public virtual ValueTask OnCloseAsync(ClientContext client, int code, string reason) => ValueTask.CompletedTask;
}
