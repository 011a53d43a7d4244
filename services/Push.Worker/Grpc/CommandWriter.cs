using Grpc.Core;
using Push.V1;
using Push.Worker.Diagnostics;

namespace Push.Worker.Grpc;

/// <summary>
/// The one loop that writes a stream's commands (stream writes must not overlap): each message packs the commands
/// queued at that moment, at most <see cref="MaxBatch"/> of them and at most Worker:CommandBatchBytes encoded bytes,
/// so a message stays below the gateway's receive limit (a single larger command goes alone).
/// </summary>
internal sealed class CommandWriter(CommandQueue queue, int maxBatchBytes, WorkerMetrics metrics, Action<int> dropped)
{
    public const int MaxBatch = 256;

    /// <summary>
    /// Writes until the queue is completed and empty. Throws what the stream throws (the commands of the failed
    /// message go to <c>dropped</c>) and <see cref="OperationCanceledException"/> at <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task RunAsync(IAsyncStreamWriter<StreamEventsResponse> responses, CancellationToken cancellationToken)
    {
        while (await queue.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var batch = new StreamEventsResponse();
            queue.ReadBatch(batch.Commands, MaxBatch, maxBatchBytes);
            metrics.CommandsQueued(-batch.Commands.Count);
            if (batch.Commands.Count == 0)
            {
                continue;
            }
            try
            {
                await responses.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                dropped(batch.Commands.Count);
                throw;
            }
            metrics.Commands(batch.Commands.Count);
        }
    }
}
