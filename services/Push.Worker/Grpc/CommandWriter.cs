using Grpc.Core;
using Push.V1;
using Push.Worker.Diagnostics;

namespace Push.Worker.Grpc;

/// <summary>
/// The one loop that writes a stream's commands (stream writes must not overlap): each message packs the commands
/// queued at that moment, at most <see cref="MaxBatch"/> of them and at most Worker:CommandBatchBytes encoded bytes,
/// so a message stays below the gateway's receive limit (a single larger command goes alone). Each message also
/// carries the stream's acknowledgement (<see cref="AckWindow"/>) when it moved and its events' commands are in this
/// message or an earlier one; with no command to carry it, an ack goes alone <see cref="AckDelay"/> after it moved, so
/// acks never cost one message per event. Once a message with an ack is written, the records of the events it covers
/// go to <c>acked</c>.
/// </summary>
internal sealed class CommandWriter(CommandQueue queue, int maxBatchBytes, WorkerMetrics metrics, Action<int> dropped, AckWindow? acks = null, TimeProvider? time = null, Action<List<AckWindow.Handled>>? acked = null)
{
    public const int MaxBatch = 256;

    /// <summary>How long an ack waits for commands to travel with before it goes alone.</summary>
    public static readonly TimeSpan AckDelay = TimeSpan.FromMilliseconds(5);

    private readonly AckWindow _acks = acks ?? new AckWindow();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>
    /// Writes until the queue is completed and empty (then sends the last ack). Throws what the stream throws (the
    /// commands of the failed message go to <c>dropped</c>) and <see cref="OperationCanceledException"/> at <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task RunAsync(IAsyncStreamWriter<StreamEventsResponse> responses, CancellationToken cancellationToken)
    {
        Task<bool>? readable = null;
        Task? news = null;
        List<AckWindow.Handled>? covered = null;
        while (true)
        {
            readable ??= queue.WaitToReadAsync(cancellationToken).AsTask();
            if (!readable.IsCompleted)
            {
                news ??= _acks.WhenNews();
                if (await Task.WhenAny(readable, news).ConfigureAwait(false) == news && !readable.IsCompleted)
                {
                    // An ack moved and no command is queued: give commands a moment to carry it.
                    using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var timer = Task.Delay(AckDelay, _time, delay.Token);
                    await Task.WhenAny(readable, timer).ConfigureAwait(false);
                    await delay.CancelAsync().ConfigureAwait(false);
                }
            }
            var more = !readable.IsCompleted || await readable.ConfigureAwait(false);
            var batch = new StreamEventsResponse();
            if (readable.IsCompleted)
            {
                readable = null;
                if (more)
                {
                    queue.ReadBatch(batch.Commands, MaxBatch, maxBatchBytes);
                    metrics.CommandsQueued(-batch.Commands.Count);
                }
            }
            if (news is { IsCompleted: true })
            {
                news = null;
            }
            covered?.Clear();
            batch.Ack = _acks.Take(queue.Taken, acked is null ? null : covered ??= []);
            if (batch.Commands.Count > 0 || batch.Ack != 0)
            {
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
                if (covered is { Count: > 0 })
                {
                    acked!(covered);
                }
            }
            if (!more)
            {
                return;
            }
        }
    }
}
