using Microsoft.Extensions.Options;
using Push.Gateway.Connections;
using Push.Gateway.Control;
using Push.Gateway.Diagnostics;
using Push.Gateway.WebSockets;
using Push.V1;

namespace Push.Gateway.Routing.Nats;

/// <summary>
/// The local part of a push that arrived over NATS: the same <see cref="ConnectionTable"/> calls as the control API's
/// local lambdas (GatewayGrpcService), with the push id of the origin on every frame. It never publishes again.
/// </summary>
internal sealed class NatsLocalDelivery(ConnectionTable table, GatewayMetrics metrics, IOptions<GatewayOptions> options)
{
    /// <summary>Delivers the request here; returns the connections it was queued to.</summary>
    /// <exception cref="Google.Protobuf.InvalidProtocolBufferException">The request bytes are not the kind's message.</exception>
    /// <exception cref="Grpc.Core.RpcException">The payload breaks this gateway's limits (Gateway:MaxPushSize).</exception>
    public long Deliver(in NatsEnvelope e)
    {
        var max = options.Value.MaxPushSize;
        switch (e.Kind)
        {
            case RoutedKind.Group:
            {
                var r = SendToGroupRequest.Parser.ParseFrom(e.Request.Span);
                var frame = Frame(Payload.Encode(r.DataCase == SendToGroupRequest.DataOneofCase.Text, r.Text, r.DataCase == SendToGroupRequest.DataOneofCase.Binary ? r.Binary : null, max), e.PushId);
                var n = table.SendToGroups(r.Groups, Exclusions(r.ExcludeClientIds), frame);
                metrics.Push("group", n);
                return n;
            }
            case RoutedKind.Uid:
            {
                var r = SendToUidRequest.Parser.ParseFrom(e.Request.Span);
                var frame = Frame(Payload.Encode(r.DataCase == SendToUidRequest.DataOneofCase.Text, r.Text, r.DataCase == SendToUidRequest.DataOneofCase.Binary ? r.Binary : null, max), e.PushId);
                var n = table.SendToUids(r.Uids, frame);
                metrics.Push("uid", n);
                return n;
            }
            case RoutedKind.All:
            {
                var r = SendToAllRequest.Parser.ParseFrom(e.Request.Span);
                var frame = Frame(Payload.Encode(r.DataCase == SendToAllRequest.DataOneofCase.Text, r.Text, r.DataCase == SendToAllRequest.DataOneofCase.Binary ? r.Binary : null, max), e.PushId);
                var n = table.SendToAll(Exclusions(r.ExcludeClientIds), frame);
                metrics.Push("all", n);
                return n;
            }
            default:
                return DeliverBatch(SendBatchRequest.Parser.ParseFrom(e.Request.Span), e.PushId, max);
        }
    }

    private long DeliverBatch(SendBatchRequest request, ulong pushId, int max)
    {
        var frames = new OutboundFrame[request.Items.Count];
        for (var i = 0; i < frames.Length; i++)
        {
            var item = request.Items[i];
            // One id per item, as the origin numbered them (GatewayGrpcService.SendBatch).
            frames[i] = Frame(Payload.Encode(item.DataCase == BatchItem.DataOneofCase.Text, item.Text, item.DataCase == BatchItem.DataOneofCase.Binary ? item.Binary : null, max, field: $"items[{i}]."), pushId + ((ulong)i * 2));
        }
        var n = BatchDelivery.Deliver(table, request.Items, frames);
        metrics.Push("batch", n);
        return n;
    }

    private static OutboundFrame Frame(OutboundFrame frame, ulong pushId)
    {
        frame.PushId = pushId;
        return frame;
    }

    // The exclusions that name this gateway's connections (others are other gateways' business).
    private HashSet<long>? Exclusions(Google.Protobuf.Collections.RepeatedField<string> ids)
    {
        HashSet<long>? set = null;
        foreach (var id in ids)
        {
            if (ClientId.TryParse(id, out var gw, out var seq) && string.Equals(gw, table.GatewayId, StringComparison.Ordinal))
            {
                (set ??= []).Add(seq);
            }
        }
        return set;
    }
}
