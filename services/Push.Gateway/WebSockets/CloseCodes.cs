namespace Push.Gateway.WebSockets;

/// <summary>
/// WebSocket close codes the gateway sends. 1000-1015 are RFC 6455's; 4000-4099 are the suite's own.
/// Reasons stay under 123 bytes.
/// </summary>
internal static class CloseCodes
{
    /// <summary>Normal closure (CloseClient, or the client asked).</summary>
    public const int Normal = 1000;
    /// <summary>The gateway is draining or shutting down; reconnect elsewhere.</summary>
    public const int GoingAway = 1001;
    /// <summary>Malformed frame, unmasked client frame, bad opcode or bad close code.</summary>
    public const int ProtocolError = 1002;
    /// <summary>Abnormal closure (no close frame; never sent, reported to workers).</summary>
    public const int Abnormal = 1006;
    /// <summary>A text message was not valid UTF-8.</summary>
    public const int InvalidPayload = 1007;
    /// <summary>Policy violation (message rate limit exceeded).</summary>
    public const int PolicyViolation = 1008;
    /// <summary>A message exceeded Gateway:MaxMessageSize.</summary>
    public const int TooBig = 1009;
    /// <summary>Unexpected server error.</summary>
    public const int InternalError = 1011;
    /// <summary>No pong or data within PingInterval x PingNotResponseLimit.</summary>
    public const int HeartbeatTimeout = 4000;
    /// <summary>The client did not read fast enough: its send queue overflowed.</summary>
    public const int SlowConsumer = 4001;
}
