using Google.Protobuf.Collections;
using Push.Gateway.Connections;
using Push.Gateway.WebSockets;
using Push.V1;

namespace Push.Gateway.Control;

/// <summary>
/// The local part of a SendBatch (on the gateway called and on every gateway it reaches): the items in order, each
/// run of consecutive items for the same target (everyone, or the same groups) queued to each connection in one step,
/// as a broadcaster that takes the burst in one call does (<see cref="ClientConnection.PushRun"/>).
/// </summary>
internal static class BatchDelivery
{
    /// <summary>Queues the items' <paramref name="frames"/> (one per item, in order); returns how many were queued.</summary>
    public static long Deliver(ConnectionTable table, RepeatedField<BatchItem> items, OutboundFrame[] frames)
    {
        long n = 0;
        for (var i = 0; i < frames.Length;)
        {
            var item = items[i];
            if (item.ClientId.Length > 0)
            {
                n += table.Find(item.ClientId)?.Push(frames[i]) == SendResult.Queued ? 1 : 0;
                i++;
                continue;
            }
            if (item.Uids.Count > 0)
            {
                n += table.SendToUids(item.Uids, frames[i]);
                i++;
                continue;
            }
            var end = i + 1;
            while (end < frames.Length && SameTarget(item, items[end]))
            {
                end++;
            }
            var run = new ReadOnlySpan<OutboundFrame>(frames, i, end - i);
            n += item.Groups.Count > 0 ? table.SendToGroups(item.Groups, null, run) : table.SendToAll(null, run);
            i = end;
        }
        return n;
    }

    // Items were validated by the gateway called: exactly one target each; no groups, uids or client id means all.
    private static bool SameTarget(BatchItem a, BatchItem b)
    {
        if (b.ClientId.Length > 0 || b.Uids.Count > 0 || a.Groups.Count != b.Groups.Count)
        {
            return false;
        }
        for (var g = 0; g < a.Groups.Count; g++)
        {
            if (!string.Equals(a.Groups[g], b.Groups[g], StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }
}
