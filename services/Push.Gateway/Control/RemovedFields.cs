using Google.Protobuf;
using Push.Hosting;
using Push.V1;

namespace Push.Gateway.Control;

/// <summary>
/// Refuses fields that were removed from the contract but that a caller built against an older one may still send.
/// Protobuf keeps them as unknown fields and the handler would ignore them: for SendToAll's old `client_ids` (field 1)
/// that would turn "only these clients" into "everyone". A gateway that forwards an old request during a rolling
/// upgrade is refused the same way, so its peer counts as not answered instead of broadcasting.
/// </summary>
internal static class RemovedFields
{
    /// <summary>Field number of the removed (reserved) `SendToAllRequest.client_ids`.</summary>
    private const int SendToAllClientIds = 1;

    public static void ThrowIfClientIds(SendToAllRequest request)
    {
        // Only unknown fields are left in a clone without the known ones: usually nothing, so nothing is serialized.
        // The clone shares the payload (strings and ByteStrings are immutable) instead of copying it.
        var probe = request.Clone();
        probe.ClearData();
        probe.ExcludeClientIds.Clear();
        if (probe.CalculateSize() == 0)
        {
            return;
        }
        var input = new CodedInputStream(probe.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == SendToAllClientIds)
            {
                throw Errors.InvalidField("client_ids", "was removed from SendToAll, which always sends to every client; send an explicit list with SendToClients");
            }
            input.SkipLastField();
        }
    }
}
