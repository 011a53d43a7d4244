using System.Buffers;
using NATS.Client.Core;

namespace Push.Gateway.Routing.Nats;

/// <summary>
/// A subscription that hands each message's payload to a callback on the connection's reader (no channel, no task per
/// subscription: a gateway may hold one per group and uid it hosts). The callback only queues frames to connections.
/// </summary>
internal sealed class NatsRawSubscription(INatsConnection connection, string subject, Action<string, ReadOnlySequence<byte>> onMessage)
    : NatsSubBase(connection, connection.SubscriptionManager, subject, queueGroup: null, opts: null), IAsyncDisposable
{
    protected override ValueTask ReceiveInternalAsync(string subject, string? replyTo, ReadOnlySequence<byte>? headersBuffer, ReadOnlySequence<byte> payloadBuffer)
    {
        onMessage(subject, payloadBuffer);
        return ValueTask.CompletedTask;
    }

    protected override void TryComplete()
    {
    }
}
