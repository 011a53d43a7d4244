namespace Push.Worker;

/// <summary>
/// A resumable connection (WebSocket subprotocol push.v1) came back within Gateway:ResumeWindow: the same client id,
/// uid, groups and session, no close or connect in between (see <see cref="BusinessEvents.OnResumeAsync"/>).
/// </summary>
public sealed class ResumeInfo
{
    /// <summary>Id of the gateway the connection came from (the client's gateway itself when it reattached where it was).</summary>
    public required string FromGatewayId { get; init; }

    /// <summary>How long the client was away.</summary>
    public required TimeSpan Away { get; init; }

    /// <summary>Messages the gateway replayed to the client on reattach (pushed while it was away and not acknowledged).</summary>
    public required int Replayed { get; init; }

    /// <summary>Remote IP address of the new socket.</summary>
    public required string RemoteAddress { get; init; }

    /// <summary>Remote TCP port of the new socket.</summary>
    public required int RemotePort { get; init; }

    /// <summary>Public endpoint of the gateway the client reattached to.</summary>
    public required string GatewayEndpoint { get; init; }

    /// <summary>Whether the connection now lives on another gateway than the one it came from.</summary>
    public bool Moved(string gatewayId) => !string.Equals(FromGatewayId, gatewayId, StringComparison.Ordinal);
}
