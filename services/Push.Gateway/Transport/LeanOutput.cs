using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Push.Gateway.Transport;

/// <summary>
/// The writing side of a <see cref="LeanConnection"/>: a PipeWriter straight on the socket. Written bytes collect in
/// one rented buffer; FlushAsync hands them to the kernel with non-blocking sends and, when the socket's send buffer
/// is full, waits for an asynchronous send of the rest. So a flush completes only once the kernel took every byte:
/// a slow reader holds its writer (and the send queue bound above it) instead of growing a buffer here. The buffer
/// goes back to the pool after each complete flush.
/// </summary>
internal sealed class LeanOutput(LeanConnection connection) : PipeWriter
{
    private const int MinimumBuffer = 4096;

    // Monitor on this object: no lock object per connection (idle memory).
    private byte[]? _buffer;
    private int _written;
    private int _sent;
    private bool _completed;
    private bool _cancelRequested;

    // 1 while a flush runs (the buffer is the send's) and for good once completed.
    private int _busy;

    /// <summary>Bytes held by the write buffer now (0 while idle).</summary>
    internal int BufferLength => _buffer?.Length ?? 0;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        lock (this)
        {
            return EnsureLocked(sizeHint).AsMemory(_written);
        }
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        lock (this)
        {
            return EnsureLocked(sizeHint).AsSpan(_written);
        }
    }

    public override void Advance(int bytes)
    {
        lock (this)
        {
            if (_completed)
            {
                return; // written after the end: dropped, like the bytes of a closed socket
            }
            if (bytes < 0 || _buffer is null || _written + bytes > _buffer.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(bytes), "Advance past the memory returned by GetMemory.");
            }
            _written += bytes;
        }
    }

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _written - _sent;

    public override void CancelPendingFlush() => Volatile.Write(ref _cancelRequested, true);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            if (Volatile.Read(ref _completed))
            {
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
            }
            throw new InvalidOperationException("Concurrent flushes are not supported.");
        }
        if (Volatile.Read(ref _cancelRequested))
        {
            _cancelRequested = false;
            Volatile.Write(ref _busy, 0);
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false));
        }
        bool done;
        lock (this)
        {
            done = SendLocked();
        }
        if (!done)
        {
            return FlushSlowAsync();
        }
        return new ValueTask<FlushResult>(EndFlush());
    }

    public override void Complete(Exception? exception = null)
    {
        lock (this)
        {
            if (_completed)
            {
                return;
            }
            _completed = true;
        }
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            // A flush is waiting on a slow peer: the connection ends now (that flush then reports completed).
            connection.CloseSocket();
            return;
        }
        lock (this)
        {
            SendLocked(); // best effort, without waiting: what was written and not flushed
            ReleaseLocked();
        }
        connection.ShutdownAndClose();
    }

    // Caller holds _sync. Non-blocking sends of what is unsent: true when nothing is left (sent, or dropped because the
    // socket is gone), false when the socket's send buffer is full.
    private bool SendLocked()
    {
        while (_sent < _written)
        {
            if (connection.IsSocketClosed)
            {
                ReleaseLocked();
                return true;
            }
            int n;
            SocketError error;
            try
            {
                n = connection.Socket.Send(_buffer.AsSpan(_sent, _written - _sent), SocketFlags.None, out error);
            }
            catch (ObjectDisposedException)
            {
                ReleaseLocked();
                return true;
            }
            if (error == SocketError.Success)
            {
                _sent += n;
                continue;
            }
            if (error is SocketError.WouldBlock or SocketError.Interrupted)
            {
                return false;
            }
            connection.CloseSocket(); // the peer is gone: the reader sees the socket closed
            ReleaseLocked();
            return true;
        }
        ReleaseLocked();
        return true;
    }

    private async ValueTask<FlushResult> FlushSlowAsync()
    {
        try
        {
            while (true)
            {
                Memory<byte> rest;
                lock (this)
                {
                    if (_sent >= _written || connection.IsSocketClosed)
                    {
                        ReleaseLocked();
                        break;
                    }
                    rest = _buffer.AsMemory(_sent, _written - _sent);
                }
                // No token: a send canceled half-way would leave the stream cut inside a frame.
                var n = await connection.Socket.SendAsync(rest, SocketFlags.None, CancellationToken.None).ConfigureAwait(false);
                lock (this)
                {
                    _sent += n;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            connection.CloseSocket();
            lock (this)
            {
                ReleaseLocked();
            }
        }
        if (Volatile.Read(ref _completed))
        {
            connection.ShutdownAndClose(); // completed while this flush waited
            return new FlushResult(isCanceled: false, isCompleted: true);
        }
        return EndFlush();
    }

    private FlushResult EndFlush()
    {
        var closed = connection.IsSocketClosed;
        var canceled = Interlocked.Exchange(ref _cancelRequested, false);
        if (!Volatile.Read(ref _completed))
        {
            Volatile.Write(ref _busy, 0);
        }
        return new FlushResult(isCanceled: canceled && !closed, isCompleted: closed || Volatile.Read(ref _completed));
    }

    // Caller holds _sync.
    private byte[] EnsureLocked(int sizeHint)
    {
        var need = Math.Max(sizeHint, 1);
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(need, MinimumBuffer));
            _written = _sent = 0;
            return _buffer;
        }
        if (_buffer.Length - _written >= need)
        {
            return _buffer;
        }
        if (Volatile.Read(ref _busy) != 0 && !_completed)
        {
            throw new InvalidOperationException("Writing while a flush is sending is not supported.");
        }
        var unsent = _written - _sent;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, unsent + need));
        _buffer.AsSpan(_sent, unsent).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
        _sent = 0;
        _written = unsent;
        return _buffer;
    }

    // Caller holds _sync.
    private void ReleaseLocked()
    {
        if (_buffer is { } b)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(b);
        }
        _written = _sent = 0;
    }
}
