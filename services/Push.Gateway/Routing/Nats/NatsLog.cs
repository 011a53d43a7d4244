using Microsoft.Extensions.Logging;

namespace Push.Gateway.Routing.Nats;

internal static partial class NatsLog
{
    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "NATS routing: connected to {Server} (subject prefix {Prefix}, {Subscriptions} subscriptions)")]
    public static partial void Connected(ILogger logger, string server, string prefix, int subscriptions);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning, Message = "NATS routing: connection to {Server} lost ({Reason}); reconnecting. Until it is back, pushes through this gateway reach only its own clients (counted in push.gateway.routing.nats.publish_failed) and publications for its {Subscriptions} subjects are lost")]
    public static partial void Disconnected(ILogger logger, string server, string reason, int subscriptions);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Warning, Message = "NATS routing: reconnected to {Server} after {Seconds:0.000} s away; subscriptions restored. Pushes published for this gateway's subjects in that window were not received here")]
    public static partial void Reconnected(ILogger logger, string server, double seconds);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Warning, Message = "NATS routing: a {Kind} push (id {PushId}) could not be published on {Failed} of {Subjects} subject(s) ({Reason}): other gateways did not receive it")]
    public static partial void PublishFailed(ILogger logger, string kind, ulong pushId, int failed, int subjects, string reason);

    [LoggerMessage(EventId = 9005, Level = LogLevel.Warning, Message = "NATS routing: {Operation} failed ({Reason}); retrying")]
    public static partial void SubscribeFailed(ILogger logger, string operation, string reason);

    [LoggerMessage(EventId = 9006, Level = LogLevel.Warning, Message = "NATS routing: a publication on {Subject} was not delivered ({Reason})")]
    public static partial void Rejected(ILogger logger, string subject, string reason);

    [LoggerMessage(EventId = 9007, Level = LogLevel.Error, Message = "NATS routing: interest for {Subject} went below zero (a leave without a join); ignored")]
    public static partial void Unbalanced(ILogger logger, string subject);

    [LoggerMessage(EventId = 9009, Level = LogLevel.Information, Message = "NATS routing: unsubscribing from {Subject} failed ({Reason}); the server drops it with the connection, and a publication it still sends delivers to nobody here")]
    public static partial void UnsubscribeFailed(ILogger logger, string subject, string reason);

    [LoggerMessage(EventId = 9008, Level = LogLevel.Warning, Message = "NATS routing: reconnect attempt failed ({Reason})")]
    public static partial void ReconnectFailed(ILogger logger, string reason);
}
