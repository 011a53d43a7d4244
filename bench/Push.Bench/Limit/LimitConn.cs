using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Push.Bench.Limit;

/// <summary>
/// One WebSocket of the limit server, written by hand on Kestrel's transport pipes. Its send queue holds
/// already-framed messages (each framed once and shared by every target);
/// while something is queued one pump drains <em>everything</em> queued into the pipe and flushes once, so
/// frames queued together go out in one socket write. Idle, it holds no queue, no pump and no buffer.
/// </summary>
public sealed class LimitConn(string id, PipeWriter output, LimitHub hub) : IThreadPoolWorkItem
{
    /// <summary>Messages a connection may have queued (the suite's Gateway:SendQueueLimit default); beyond it a push drops.</summary>
    public const int QueueLimit = 4096;

    private readonly Lock _lock = new();
    private List<ReadOnlyMemory<byte>>? _pending;
    private List<ReadOnlyMemory<byte>>? _spare;
    private int _queuedMessages;
    private bool _pumping;
    private bool _closed;

    public string Id { get; } = id;

    public string? Uid { get; set; }

    /// <summary>Groups joined (guarded by locking the connection's <see cref="Groups"/> list).</summary>
    public List<string>? Groups { get; set; }

    /// <summary>Queues <paramref name="frames"/> (holding <paramref name="messages"/> frames); false when full or closed.</summary>
    public bool Enqueue(ReadOnlyMemory<byte> frames, int messages)
    {
        lock (_lock)
        {
            if (_closed || _queuedMessages + messages > QueueLimit)
            {
                return false;
            }
            (_pending ??= []).Add(frames);
            _queuedMessages += messages;
            if (_pumping)
            {
                return true;
            }
            _pumping = true;
        }
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return true;
    }

    /// <summary>Queues several frames (each framed once, shared by every target) under one lock; false when full or closed.</summary>
    public bool EnqueueMany(ReadOnlyMemory<byte>[] frames)
    {
        lock (_lock)
        {
            if (_closed || _queuedMessages + frames.Length > QueueLimit)
            {
                return false;
            }
            (_pending ??= new(frames.Length)).AddRange(frames);
            _queuedMessages += frames.Length;
            if (_pumping)
            {
                return true;
            }
            _pumping = true;
        }
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return true;
    }

    public void Execute() => _ = PumpAsync();

    private async Task PumpAsync()
    {
        try
        {
            while (true)
            {
                List<ReadOnlyMemory<byte>> batch;
                lock (_lock)
                {
                    if (_closed || _pending is null || _pending.Count == 0)
                    {
                        _pumping = false;
                        // Idle again: let the lists go, so an idle connection holds none.
                        _pending = null;
                        _spare = null;
                        return;
                    }
                    batch = _pending;
                    _pending = _spare;
                    _spare = null;
                    _queuedMessages = 0;
                }
                foreach (var frames in batch)
                {
                    output.Write(frames.Span);
                }
                batch.Clear();
                lock (_lock)
                {
                    _spare = batch;
                }
                var flushed = await output.FlushAsync().ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    Close();
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
            Close();
        }
    }

    public void Close()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            _pending = null;
            _spare = null;
        }
        hub.Remove(this);
    }

    // --------------------------------------------------------------------------------------------
    // Server framing (RFC 6455: unmasked, one frame per message).
    // --------------------------------------------------------------------------------------------

    public static int FrameLength(int payload) => (payload < 126 ? 2 : payload <= ushort.MaxValue ? 4 : 10) + payload;

    /// <summary>Writes one unmasked frame of <paramref name="opcode"/> into <paramref name="dst"/>; returns its length.</summary>
    public static int WriteFrame(Span<byte> dst, int opcode, ReadOnlySpan<byte> payload)
    {
        dst[0] = (byte)(0x80 | opcode);
        int header;
        if (payload.Length < 126)
        {
            dst[1] = (byte)payload.Length;
            header = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            dst[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(2), (ushort)payload.Length);
            header = 4;
        }
        else
        {
            dst[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(dst.Slice(2), (ulong)payload.Length);
            header = 10;
        }
        payload.CopyTo(dst.Slice(header));
        return header + payload.Length;
    }

    public static byte[] Frame(int opcode, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameLength(payload.Length)];
        WriteFrame(frame, opcode, payload);
        return frame;
    }

    /// <summary>
    /// Reads client frames until close: data messages are echoed (the same bytes back as a text or binary frame),
    /// pings answered, a close answered and ended. Fragmented messages are reassembled (at most 1 MiB).
    /// </summary>
    public async Task ReadLoopAsync(PipeReader input)
    {
        byte[]? fragment = null;
        int fragmentLength = 0;
        int fragmentOpcode = 1;
        try
        {
            while (true)
            {
                var read = await input.ReadAsync().ConfigureAwait(false);
                var buffer = read.Buffer;
                while (TryReadFrame(ref buffer, out bool fin, out int opcode, out byte[]? payload))
                {
                    switch (opcode)
                    {
                        case 0x0 or 0x1 or 0x2:
                            if (opcode != 0)
                            {
                                fragmentOpcode = opcode;
                            }
                            if (fin && fragment is null)
                            {
                                Enqueue(Frame(fragmentOpcode, payload), 1);
                                break;
                            }
                            if (fragment is null || fragment.Length < fragmentLength + payload!.Length)
                            {
                                Array.Resize(ref fragment, Math.Max(256, (fragmentLength + payload!.Length) * 2));
                            }
                            payload.CopyTo(fragment.AsSpan(fragmentLength));
                            fragmentLength += payload.Length;
                            if (fragmentLength > 1 << 20)
                            {
                                return;
                            }
                            if (fin)
                            {
                                Enqueue(Frame(fragmentOpcode, fragment.AsSpan(0, fragmentLength)), 1);
                                fragment = null;
                                fragmentLength = 0;
                            }
                            break;
                        case 0x8:
                            Enqueue(Frame(0x8, payload!.Length >= 2 ? payload.AsSpan(0, 2) : default), 0);
                            return;
                        case 0x9:
                            Enqueue(Frame(0xA, payload), 0);
                            break;
                        default:
                            break;
                    }
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted || read.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
        }
        finally
        {
            Close();
        }
    }

    /// <summary>Takes one complete (masked) client frame off <paramref name="buffer"/>, unmasked; false when incomplete.</summary>
    private static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out bool fin, out int opcode, out byte[]? payload)
    {
        fin = false;
        opcode = 0;
        payload = null;
        Span<byte> head = stackalloc byte[14];
        int have = (int)Math.Min(buffer.Length, 14);
        if (have < 2)
        {
            return false;
        }
        buffer.Slice(0, have).CopyTo(head);
        long length = head[1] & 0x7F;
        int header = 2;
        if (length == 126)
        {
            if (have < 4)
            {
                return false;
            }
            length = BinaryPrimitives.ReadUInt16BigEndian(head.Slice(2));
            header = 4;
        }
        else if (length == 127)
        {
            if (have < 10)
            {
                return false;
            }
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(head.Slice(2));
            header = 10;
        }
        if (length > 1 << 20)
        {
            throw new InvalidOperationException("frame too large");
        }
        bool masked = (head[1] & 0x80) != 0;
        int maskAt = header;
        if (masked)
        {
            header += 4;
        }
        if (have < header || buffer.Length < header + length)
        {
            return false;
        }
        fin = (head[0] & 0x80) != 0;
        opcode = head[0] & 0x0F;
        payload = buffer.Slice(header, length).ToArray();
        if (masked)
        {
            var key = head.Slice(maskAt, 4);
            for (int i = 0; i < payload.Length; i++)
            {
                payload[i] ^= key[i & 3];
            }
        }
        buffer = buffer.Slice(header + length);
        return true;
    }
}
