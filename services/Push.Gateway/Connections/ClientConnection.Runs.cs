using Push.Gateway.WebSockets;

namespace Push.Gateway.Connections;

/// <summary>
/// Queuing a run of frames for the same connection in one step: a SendBatch whose consecutive items go to the same
/// target (everyone, or the same groups) queues them under one acquisition of the send lock and schedules the pump
/// once, instead of one lock, one bound check and one schedule per item and connection (the connection table is also
/// walked once per run instead of once per item).
/// </summary>
internal sealed partial class ClientConnection
{
    /// <summary>
    /// Queues <paramref name="frames"/> in order, as that many <see cref="Push"/> calls would (same bounds, slow-consumer
    /// policy and undelivered counts), and returns how many were queued. A resumable connection takes them one by one:
    /// each frame is numbered and retained in its tail.
    /// </summary>
    public int PushRun(ReadOnlySpan<OutboundFrame> frames, bool inline)
    {
        if (frames.Length == 1 || _resume is not null)
        {
            var n = 0;
            foreach (var f in frames)
            {
                n += Push(f, inline) == SendResult.Queued ? 1 : 0;
            }
            return n;
        }
        var queued = 0;
        var dropped = 0;
        var overflowAt = -1;
        var closing = false;
        var schedule = false;
        lock (_sendSync)
        {
            if (_closeQueued || _outputDone)
            {
                closing = true;
            }
            else
            {
                _queue ??= new Queue<OutboundFrame>(Math.Min(frames.Length, 64));
                for (var i = 0; i < frames.Length; i++)
                {
                    var frame = frames[i];
                    if (QueueFullLocked(frame.Length))
                    {
                        if (_policy != SlowConsumerPolicy.DropOldest)
                        {
                            overflowAt = i;
                            break;
                        }
                        while (_queue.Count > 0 && (_queue.Count >= _queueLimit || _queuedBytes + frame.Length > _queueBytesLimit))
                        {
                            _queuedBytes -= _queue.Dequeue().Length;
                            dropped++;
                        }
                    }
                    _queue.Enqueue(frame);
                    _queuedBytes += frame.Length;
                    queued++;
                }
                if (queued > 0)
                {
                    _metrics.QueuedBytesReached(_queuedBytes);
                    schedule = StartPumpLocked();
                }
            }
        }
        if (closing)
        {
            _metrics.PushUndelivered("closing", frames.Length);
            return 0;
        }
        if (dropped > 0)
        {
            _metrics.Dropped(dropped);
        }
        if (overflowAt >= 0)
        {
            // As Push: the frame that did not fit is dropped and closes the client (4001, what was queued goes with
            // it); the frames after it find the connection closing.
            _metrics.Dropped(1);
            _metrics.PushUndelivered("send_queue_full");
            if (frames.Length - overflowAt - 1 > 0)
            {
                _metrics.PushUndelivered("closing", frames.Length - overflowAt - 1);
            }
            Close(CloseCodes.SlowConsumer, "slow consumer: send queue full", dropQueued: true);
        }
        if (schedule)
        {
            if (inline)
            {
                _ = PumpAsync();
            }
            else
            {
                SendScheduler.Schedule(this);
            }
        }
        return queued;
    }
}
