using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Push.V1;

namespace Push.Gateway.Routing.Mesh;

/// <summary>
/// push.v1.InterestService: streams this gateway's interest to a watching gateway (member scope, AccessHandler):
/// a snapshot in chunks, then the changes in version order, and a grant after each acknowledgement. One writer per
/// stream; acknowledgements are read beside it.
/// </summary>
internal sealed partial class InterestGrpcService(GatewayIdentity identity, IPushRouting routing, IHostApplicationLifetime lifetime, ILogger<InterestGrpcService> logger) : InterestService.InterestServiceBase
{
    private const int ChunkNames = 4096;

    public override async Task Watch(IAsyncStreamReader<WatchRequest> requestStream, IServerStreamWriter<WatchResponse> responseStream, ServerCallContext context)
    {
        if (routing is not MeshPushRouting mesh)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"this gateway routes by {routing.Mode} (Cluster:Routing): every gateway of a cluster must use the same routing"));
        }
        var ct = context.CancellationToken;
        if (!await requestStream.MoveNext(ct).ConfigureAwait(false) || requestStream.Current.GatewayId.Length == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "the first WatchRequest names the watching gateway (gateway_id)"));
        }
        var log = mesh.Log;
        var peer = requestStream.Current.GatewayId;
        var (w, groups, uids, version) = log.Open(peer);
        try
        {
            await WriteSnapshotAsync(responseStream, groups, uids, version, ct).ConfigureAwait(false);
            // Ends when the peer goes or this process stops (a long stream must not hold up the shutdown).
            using var done = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
            var reader = ReadAcksAsync(requestStream, log, w, peer, done);
            try
            {
                while (!done.IsCancellationRequested)
                {
                    await w.WaitAsync(done.Token).ConfigureAwait(false);
                    w.Consume();
                    var batch = log.Take(w);
                    if (batch is null)
                    {
                        Log.WatcherBehind(logger, peer);
                        return; // fell behind the log: the peer resyncs from a new snapshot
                    }
                    for (var i = 0; i < batch.Changes.Count; i += ChunkNames)
                    {
                        var changes = new InterestChanges { FirstVersion = (ulong)(batch.FirstVersion + i) };
                        for (var j = i; j < Math.Min(batch.Changes.Count, i + ChunkNames); j++)
                        {
                            var c = batch.Changes[j];
                            changes.Changes.Add(new InterestChange { Kind = c.Kind == InterestKind.Group ? InterestChangeKind.Group : InterestChangeKind.Uid, Name = c.Name, On = c.On });
                        }
                        await responseStream.WriteAsync(new WatchResponse { Changes = changes }, done.Token).ConfigureAwait(false);
                    }
                    if (batch.Grant is { } grant)
                    {
                        await responseStream.WriteAsync(new WatchResponse { Grant = new InterestGrant { AckId = grant.AckId, Version = (ulong)grant.Version, LeaseMs = (uint)log.Lease.TotalMilliseconds } }, done.Token).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested)
            {
                // the peer went away, or sent something out of place (logged by the reader)
            }
            finally
            {
                await done.CancelAsync().ConfigureAwait(false);
                await reader.ConfigureAwait(false);
            }
        }
        finally
        {
            log.Close(w);
        }
    }

    private async Task WriteSnapshotAsync(IServerStreamWriter<WatchResponse> output, string[] groups, string[] uids, long version, CancellationToken ct)
    {
        var gi = 0;
        var ui = 0;
        do
        {
            var chunk = new InterestSnapshot { GatewayId = identity.Id, Version = (ulong)version };
            while (gi < groups.Length && chunk.Groups.Count < ChunkNames)
            {
                chunk.Groups.Add(groups[gi++]);
            }
            while (ui < uids.Length && chunk.Groups.Count + chunk.Uids.Count < ChunkNames)
            {
                chunk.Uids.Add(uids[ui++]);
            }
            chunk.Last = gi == groups.Length && ui == uids.Length;
            await output.WriteAsync(new WatchResponse { Snapshot = chunk }, ct).ConfigureAwait(false);
        }
        while (gi < groups.Length || ui < uids.Length);
    }

    private async Task ReadAcksAsync(IAsyncStreamReader<WatchRequest> input, LocalInterestLog log, LocalInterestLog.Watcher w, string peer, CancellationTokenSource done)
    {
        try
        {
            while (await input.MoveNext(done.Token).ConfigureAwait(false))
            {
                var ack = input.Current;
                if (!log.Acknowledge(w, (long)ack.AckedVersion, ack.AckId))
                {
                    Log.BadAck(logger, peer, ack.AckedVersion);
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException or InvalidOperationException)
        {
            // The stream ended (the peer went away or restarted): the writer stops below.
        }
        finally
        {
            await done.CancelAsync().ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3321, LogLevel.Warning, "Interest watcher {PeerId} fell behind the change log; its stream ends and it resyncs from a snapshot (it sends this gateway every push meanwhile).", EventName = "InterestWatcherBehind")]
        public static partial void WatcherBehind(ILogger logger, string peerId);

        [LoggerMessage(3322, LogLevel.Warning, "Interest watcher {PeerId} acknowledged version {Version}, which this gateway did not send it; its stream ends.", EventName = "InterestBadAck")]
        public static partial void BadAck(ILogger logger, string peerId, ulong version);
    }
}
