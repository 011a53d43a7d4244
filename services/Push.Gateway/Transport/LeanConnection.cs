using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Push.Gateway.Transport;

/// <summary>
/// One accepted socket of the lean transport. While idle it holds the socket, this object, its reader and writer
/// (a few fields each) and the features Kestrel set on it: no pipe, no buffer, no receive or send loop. The reader
/// waits with a zero-byte receive and rents a buffer only while bytes are unconsumed; the writer rents one only
/// between the first write and the flush that handed its bytes to the kernel (FlushAsync completes only then, so a
/// slow reader makes the writer wait instead of buffering).
/// </summary>
internal sealed partial class LeanConnection : ConnectionContext, IDuplexPipe
{
    private readonly Socket _socket;
    private readonly LeanInput _input;
    private readonly LeanOutput _output;
    private readonly long _id;
    private string? _connectionId;
    private IDuplexPipe? _transport;
    private EndPoint? _local;
    private EndPoint? _remote;
    private CancellationTokenSource? _closedSource;
    private CancellationToken? _closedOverride;
    private IDictionary<object, object?>? _items;

    // 0 open; 1 the socket is closed (aborted, reset or disposed). Written with Interlocked.
    private int _socketClosed;
    private int _closedFired;
    private Exception? _abortReason;

    public LeanConnection(Socket socket, long id, EndPoint? sharedLocal, int maxReadBytes)
    {
        _socket = socket;
        _id = id;
        _local = sharedLocal;
        _input = new LeanInput(this, maxReadBytes);
        _output = new LeanOutput(this);
    }

    internal Socket Socket => _socket;

    /// <summary>Bytes of read and write buffers this connection holds now (0 while idle).</summary>
    internal int BufferedBytes => _input.BufferLength + _output.BufferLength;

    /// <summary>Why the socket ended when the application (or Kestrel) aborted it; null otherwise.</summary>
    internal Exception? AbortReason => Volatile.Read(ref _abortReason);

    internal bool IsSocketClosed => Volatile.Read(ref _socketClosed) != 0;

    public override string ConnectionId
    {
        get => _connectionId ??= "lean-" + _id.ToString(CultureInfo.InvariantCulture);
        set => _connectionId = value;
    }

    public override IDuplexPipe Transport
    {
        get => _transport ?? this;
        set => _transport = ReferenceEquals(value, this) ? null : value;
    }

    PipeReader IDuplexPipe.Input => _input;

    PipeWriter IDuplexPipe.Output => _output;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _local ??= SafeEndPoint(static s => s.LocalEndPoint);
        set => _local = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        // The accepted socket keeps the peer's address itself: nothing is stored here unless set.
        get => _remote ?? SafeEndPoint(static s => s.RemoteEndPoint);
        set => _remote = value;
    }

    public override CancellationToken ConnectionClosed
    {
        get
        {
            if (_closedOverride is { } t)
            {
                return t;
            }
            var source = Volatile.Read(ref _closedSource);
            if (source is null)
            {
                var made = new CancellationTokenSource();
                source = Interlocked.CompareExchange(ref _closedSource, made, null) ?? made;
                if (!ReferenceEquals(source, made))
                {
                    made.Dispose();
                }
                else if (Volatile.Read(ref _closedFired) != 0)
                {
                    source.Cancel(); // closed before anyone asked
                }
            }
            return source.Token;
        }
        set => _closedOverride = value;
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Interlocked.CompareExchange(ref _abortReason, abortReason, null);
        CloseSocket();
    }

    public override void Abort() => Abort(new ConnectionAbortedException("The connection was aborted by the application."));

    public override ValueTask DisposeAsync()
    {
        _input.Complete();
        _output.Complete(); // what was written and not flushed goes if the socket takes it at once; then FIN
        CloseSocket();
        _input.ReleaseBuffer();
        return base.DisposeAsync();
    }

    /// <summary>The output completed: FIN to the peer (after what it was sent), then the socket closes (Kestrel's socket transport does the same).</summary>
    internal void ShutdownAndClose()
    {
        if (Interlocked.Exchange(ref _socketClosed, 1) == 0)
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // the peer is gone already
            }
            _socket.Dispose();
        }
        FireClosed();
    }

    /// <summary>Closes the socket at once (abort, send or receive failure): pending reads and writes end.</summary>
    internal void CloseSocket()
    {
        if (Interlocked.Exchange(ref _socketClosed, 1) == 0)
        {
            _socket.Dispose();
        }
        FireClosed();
    }

    /// <summary>Kestrel's semantics: ConnectionClosed fires once the receive side ended (FIN, reset, abort) or the socket closed.</summary>
    internal void FireClosed()
    {
        if (Interlocked.Exchange(ref _closedFired, 1) != 0)
        {
            return;
        }
        if (Volatile.Read(ref _closedSource) is { } source)
        {
            // Off this thread: its callbacks must not run inside a read or write of this connection.
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Cancel(), source, preferLocal: false);
        }
    }

    private EndPoint? SafeEndPoint(Func<Socket, EndPoint?> read)
    {
        try
        {
            return read(_socket);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }
}
