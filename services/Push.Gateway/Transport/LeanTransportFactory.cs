using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Push.Gateway.Transport;

/// <summary>
/// Kestrel transport for the WebSocket port (Gateway:Transport=lean, the default): raw sockets whose connections hold
/// no pipe, buffer or loop task while idle (<see cref="LeanConnection"/>). It binds only <see cref="LeanEndPoint"/>s, so
/// every other Kestrel endpoint stays on the socket transport.
/// </summary>
internal sealed partial class LeanTransportFactory(IOptions<GatewayOptions> options, ILogger<LeanTransportFactory> logger) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    /// <summary>Listen backlog (Kestrel's socket transport uses 512 too).</summary>
    public const int Backlog = 512;

    public bool CanBind(EndPoint endpoint) => endpoint is LeanEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not LeanEndPoint ep)
        {
            throw new NotSupportedException($"the lean transport binds only {nameof(LeanEndPoint)}s, not {endpoint.GetType().Name}");
        }
        var socket = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ep.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            socket.Bind(ep);
            socket.Listen(Backlog);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var bound = new LeanEndPoint((IPEndPoint)socket.LocalEndPoint!);
        var o = options.Value;
        // A frame is parsed once it is whole: the read buffer must hold the largest frame (or handshake) plus slack.
        var maxRead = Math.Max(o.MaxMessageSize, o.MaxHandshakeSize) + 64 * 1024;
        Log.Listening(logger, bound.ToString());
        return new ValueTask<IConnectionListener>(new LeanListener(socket, bound, maxRead, logger));
    }

    private sealed class LeanListener(Socket socket, LeanEndPoint endPoint, int maxRead, ILogger logger) : IConnectionListener
    {
        // Shared by every connection of a listener bound to one address (their local address is the listener's).
        private readonly EndPoint? _sharedLocal = endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any) ? null : endPoint;
        private long _nextId;

        public EndPoint EndPoint => endPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                Socket accepted;
                try
                {
                    accepted = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (ObjectDisposedException)
                {
                    return null; // unbound
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.OperationAborted)
                {
                    return null;
                }
                catch (SocketException ex)
                {
                    // The peer reset before the accept (ECONNABORTED etc.): the listener goes on.
                    Log.AcceptFailed(logger, ex.SocketErrorCode.ToString());
                    continue;
                }
                try
                {
                    accepted.NoDelay = true;
                    accepted.Blocking = false; // sends and receives are tried at once, and wait only when they would block
                }
                catch (SocketException)
                {
                    accepted.Dispose();
                    continue;
                }
                return new LeanConnection(accepted, Interlocked.Increment(ref _nextId), _sharedLocal, maxRead);
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3701, LogLevel.Debug, "WebSocket port on the lean transport: {EndPoint}.", EventName = "LeanListening")]
        public static partial void Listening(ILogger logger, string endPoint);

        [LoggerMessage(3702, LogLevel.Debug, "Lean transport: an accept failed ({Error}); the listener goes on.", EventName = "LeanAcceptFailed")]
        public static partial void AcceptFailed(ILogger logger, string error);
    }
}
