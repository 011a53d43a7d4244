using Google.Protobuf.WellKnownTypes;
using Push.Gateway.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.Workers;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Hosting;

/// <summary>Builds this gateway's entry of GetStatus.</summary>
internal sealed class StatusReporter(ConnectionTable table, GatewayIdentity identity, GatewayMetrics metrics, WorkerRouter router, AdvertisedAddress address, ClusterMembership membership, TimeProvider time)
{
    public GetStatusResponse Local() => new()
    {
        Gateways =
        {
            new GatewayStatus
            {
                Id = identity.Id,
                Address = address.Value ?? string.Empty,
                Connections = table.Count,
                Groups = table.GroupCount,
                Uids = table.UidCount,
                MessagesIn = Interlocked.Read(ref metrics.MessagesIn),
                MessagesOut = Interlocked.Read(ref metrics.MessagesOut),
                MessagesDropped = Interlocked.Read(ref metrics.MessagesDropped),
                WorkersConnected = router.OpenCount,
                WorkerQueueBytes = router.QueuedBytes,
                Uptime = Duration.FromTimeSpan(time.GetUtcNow() - identity.StartedAt),
                Draining = identity.Draining,
            },
        },
    };

    public IEnumerable<WorkerStatus> Workers() => membership.Workers.Select(w => new WorkerStatus { Id = w.Id, Address = w.Address });
}
