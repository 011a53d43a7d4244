using Microsoft.Extensions.Options;
using Push.Gateway.WebSockets;

namespace Push.Gateway;

/// <summary>
/// Refuses gateway settings that contradict each other, so the process stops at start with one line naming them
/// instead of failing on the first large message.
/// </summary>
internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    /// <summary>The message limit of the worker stream (the worker's receive limit): one event alone must fit it.</summary>
    public const long GrpcMessageLimit = Push.Hosting.GrpcLimits.StreamReceiveBytes;

    /// <summary>Protobuf envelope of an event beyond its payload, session and handshake headers (ids, uid, tags, traceparent).</summary>
    public const int EventEnvelope = 4096;

    /// <summary>
    /// Largest event a client can cause: a message of MaxMessageSize (or a connect event's headers) with a full session
    /// and a uid. A session char costs at most 11 bytes (3 in UTF-8, plus the map entry's framing when every key is one
    /// char long).
    /// </summary>
    public static long MaxEventBytes(GatewayOptions o)
        => (long)Math.Max(o.MaxMessageSize, o.MaxHandshakeSize) + 11L * o.MaxSessionSize + 3L * o.MaxNameLength + EventEnvelope;

    public ValidateOptionsResult Validate(string? name, GatewayOptions o)
    {
        var failures = new List<string>();
        var header = OutboundFrame.HeaderLength(o.MaxPushSize);
        if ((long)o.MaxPushSize + header > o.SendQueueBytes)
        {
            failures.Add($"Gateway:MaxPushSize ({o.MaxPushSize}) + {header}-byte frame header > Gateway:SendQueueBytes ({o.SendQueueBytes}): a push of MaxPushSize could never be queued; raise SendQueueBytes to at least {o.MaxPushSize + header} or lower MaxPushSize");
        }
        var maxEvent = MaxEventBytes(o);
        if (maxEvent > o.WorkerQueueBytes)
        {
            failures.Add($"Gateway:WorkerQueueBytes ({o.WorkerQueueBytes}) < largest event ({maxEvent} bytes, from Gateway:MaxMessageSize {o.MaxMessageSize} and Gateway:MaxSessionSize {o.MaxSessionSize}): raise WorkerQueueBytes or lower MaxMessageSize/MaxSessionSize");
        }
        if (maxEvent > GrpcMessageLimit)
        {
            failures.Add($"largest event ({maxEvent} bytes, from Gateway:MaxMessageSize {o.MaxMessageSize} and Gateway:MaxSessionSize {o.MaxSessionSize}) > the {GrpcMessageLimit}-byte gRPC message limit of the worker stream: lower MaxMessageSize or MaxSessionSize");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
