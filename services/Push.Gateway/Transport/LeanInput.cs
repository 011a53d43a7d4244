using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;

namespace Push.Gateway.Transport;

/// <summary>
/// The reading side of a <see cref="LeanConnection"/>: a PipeReader straight on the socket. A read that finds no
/// unexamined bytes tries a non-blocking receive; when that would block it waits with a zero-byte receive (no buffer
/// pinned while idle) and completes through this object (no async state machine held while idle). A buffer is rented
/// only while bytes are unconsumed and returned as soon as the reader consumed them all.
/// </summary>
internal sealed class LeanInput(LeanConnection connection, int maxBytes) : PipeReader, IValueTaskSource<ReadResult>
{
    private const int MinimumBuffer = 4096;

    // Monitor on this object: no lock object per connection (idle memory).
    private ManualResetValueTaskSourceCore<ReadResult> _core;
    private byte[]? _buffer;
    private int _start;
    private int _end;
    private bool _examinedAll;
    private bool _fin;
    private bool _completed;
    private bool _cancelRequested;
    private bool _reading;
    private bool _waitPending;
    private bool _armed;
    private Exception? _error;
    private ValueTask<int> _wait;
    private CancellationToken _readToken;
    private Action? _onReadable;

    /// <summary>Bytes held by the read buffer now (0 while idle).</summary>
    internal int BufferLength => _buffer?.Length ?? 0;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        bool arm;
        lock (this)
        {
            if (_completed)
            {
                throw new InvalidOperationException("Reading is not allowed after the reader was completed.");
            }
            if (_reading)
            {
                throw new InvalidOperationException("Concurrent reads are not supported.");
            }
            if (TryTakeLocked(out var now))
            {
                return new ValueTask<ReadResult>(now);
            }
            cancellationToken.ThrowIfCancellationRequested();
            _readToken = cancellationToken;
            while (true)
            {
                if (!_waitPending)
                {
                    if (TryReceiveLocked(out var received))
                    {
                        return new ValueTask<ReadResult>(received);
                    }
                    StartWaitLocked();
                }
                if (!_wait.IsCompleted || _armed)
                {
                    break;
                }
                _waitPending = false;
                EndWait(); // completed at once: try the socket again
            }
            _core.Reset();
            _reading = true;
            arm = !_armed;
            _armed = true;
        }
        if (arm)
        {
            _wait.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onReadable ??= OnReadable);
        }
        return new ValueTask<ReadResult>(this, _core.Version);
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (this)
        {
            if (_completed)
            {
                throw new InvalidOperationException("Reading is not allowed after the reader was completed.");
            }
            return TryTakeLocked(out result);
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        lock (this)
        {
            if (_buffer is null || _start == _end)
            {
                // The last read gave an empty sequence (ReadOnlySequence.Empty): nothing to consume.
                _examinedAll = true;
                ReleaseBufferLocked();
                return;
            }
            var c = consumed.GetObject() is null ? _start : consumed.GetInteger() & int.MaxValue;
            var e = examined.GetObject() is null ? _end : examined.GetInteger() & int.MaxValue;
            if ((consumed.GetObject() is { } co && !ReferenceEquals(co, _buffer)) || c < _start || c > _end || e < c || e > _end)
            {
                throw new InvalidOperationException("The position is not within the last read's buffer.");
            }
            _examinedAll = e >= _end;
            _start = c;
            if (_start == _end)
            {
                ReleaseBufferLocked();
            }
        }
    }

    public override void CancelPendingRead()
    {
        ReadResult result;
        lock (this)
        {
            if (!_reading)
            {
                _cancelRequested = true;
                return;
            }
            _reading = false;
            result = new ReadResult(CurrentLocked(), isCanceled: true, isCompleted: _fin);
        }
        _core.SetResult(result); // the zero-byte wait stays armed; the next read takes it over
    }

    public override void Complete(Exception? exception = null)
    {
        lock (this)
        {
            _completed = true;
            if (!_reading)
            {
                ReleaseBufferLocked();
            }
        }
    }

    /// <summary>Returns the buffer to the pool once the connection is gone (a read still waiting is failed by the closed socket).</summary>
    internal void ReleaseBuffer()
    {
        lock (this)
        {
            if (!_reading)
            {
                ReleaseBufferLocked();
            }
        }
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);

    // The zero-byte receive completed (data, FIN, error, or the read's token): finish the waiting read.
    private void OnReadable()
    {
        ReadResult result = default;
        Exception? error = null;
        var arm = false;
        lock (this)
        {
            _armed = false;
            _waitPending = false;
            try
            {
                EndWait();
                if (!_reading)
                {
                    return; // that read was canceled; the next one tries the socket itself
                }
                while (true)
                {
                    if (TryReceiveLocked(out result))
                    {
                        break;
                    }
                    StartWaitLocked(); // woke without data: wait again
                    if (!_wait.IsCompleted)
                    {
                        arm = _armed = true;
                        break;
                    }
                    _waitPending = false;
                    EndWait();
                }
            }
            catch (Exception ex)
            {
                if (!_reading)
                {
                    return;
                }
                error = ex;
            }
            if (!arm)
            {
                _reading = false;
            }
        }
        if (arm)
        {
            _wait.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onReadable!);
        }
        else if (error is not null)
        {
            _core.SetException(error);
        }
        else
        {
            _core.SetResult(result);
        }
    }

    // Caller holds _sync. A result that needs no socket call: a canceled read, bytes not examined yet, FIN, or an error.
    private bool TryTakeLocked(out ReadResult result)
    {
        if (_cancelRequested)
        {
            _cancelRequested = false;
            result = new ReadResult(CurrentLocked(), isCanceled: true, isCompleted: _fin);
            return true;
        }
        if ((_end > _start && !_examinedAll) || _fin)
        {
            result = new ReadResult(CurrentLocked(), isCanceled: false, isCompleted: _fin);
            return true;
        }
        if (_error is not null)
        {
            throw _error;
        }
        result = default;
        return false;
    }

    // Caller holds _sync. One non-blocking receive: true with a result (bytes or FIN), false when it would block
    // (the buffer, if empty, went back to the pool); throws for a closed or failed socket.
    private bool TryReceiveLocked(out ReadResult result)
    {
        result = default;
        if (connection.IsSocketClosed)
        {
            throw Fail(null);
        }
        EnsureSpaceLocked();
        int n;
        SocketError error;
        try
        {
            n = connection.Socket.Receive(_buffer.AsSpan(_end), SocketFlags.None, out error);
        }
        catch (ObjectDisposedException)
        {
            throw Fail(null);
        }
        if (error == SocketError.Success)
        {
            if (n == 0)
            {
                _fin = true; // half-close: the client sends no more; writing to it still works
                connection.FireClosed();
            }
            else
            {
                _end += n;
                _examinedAll = false;
            }
            result = new ReadResult(CurrentLocked(), isCanceled: false, isCompleted: _fin);
            return true;
        }
        if (error is SocketError.WouldBlock or SocketError.Interrupted)
        {
            if (_start == _end)
            {
                ReleaseBufferLocked();
            }
            return false;
        }
        throw Fail(new SocketException((int)error));
    }

    // Caller holds _sync.
    private void StartWaitLocked()
    {
        try
        {
#pragma warning disable CA2012 // kept in a field so that the waiting read completes from it without an async state machine; consumed once, in EndWait
            _wait = connection.Socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, _readToken);
#pragma warning restore CA2012
        }
        catch (ObjectDisposedException)
        {
            throw Fail(null);
        }
        _waitPending = true;
    }

    // Caller holds _sync; the wait has completed. Throws what ended it, if anything did.
    private void EndWait()
    {
        try
        {
            _wait.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_readToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(_readToken); // the read's token: the connection goes on
        }
        catch (OperationCanceledException)
        {
            throw Fail(null);
        }
        catch (ObjectDisposedException)
        {
            throw Fail(null);
        }
        catch (SocketException ex)
        {
            throw Fail(ex);
        }
        finally
        {
            _wait = default;
        }
    }

    // Caller holds _sync. The socket ended: the error every later read throws too.
    private Exception Fail(SocketException? ex)
    {
        if (_error is null)
        {
            _error = connection.AbortReason
                ?? (ex is null || ex.SocketErrorCode == SocketError.OperationAborted
                    ? new ConnectionAbortedException("The lean transport's socket was closed.")
                    : ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown or SocketError.NetworkReset
                        ? new ConnectionResetException(ex.Message, ex)
                        : new IOException(ex.Message, ex));
            connection.CloseSocket();
        }
        if (_start == _end)
        {
            ReleaseBufferLocked();
        }
        return _error;
    }

    // Caller holds _sync.
    private void EnsureSpaceLocked()
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(MinimumBuffer);
            _start = _end = 0;
            return;
        }
        if (_end < _buffer.Length)
        {
            return;
        }
        var length = _end - _start;
        if (_start > 0 && length <= _buffer.Length / 2)
        {
            _buffer.AsSpan(_start, length).CopyTo(_buffer);
        }
        else
        {
            if (_buffer.Length >= maxBytes)
            {
                // The reader examined a whole buffer of the largest size it may need and wants more: no frame is that big.
                connection.Abort(new ConnectionAbortedException($"more than {maxBytes} bytes unconsumed on the WebSocket port"));
                throw Fail(null);
            }
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(_buffer.Length * 2, length + MinimumBuffer), maxBytes));
            _buffer.AsSpan(_start, length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        _start = 0;
        _end = length;
    }

    private ReadOnlySequence<byte> CurrentLocked()
        => _buffer is null || _end == _start ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);

    private void ReleaseBufferLocked()
    {
        if (_buffer is { } b)
        {
            _buffer = null;
            _start = _end = 0;
            ArrayPool<byte>.Shared.Return(b);
        }
    }
}
