using System.Net;

namespace Push.Gateway.Transport;

/// <summary>
/// The address of the WebSocket port when it runs on the lean transport: an <see cref="IPEndPoint"/> (so Kestrel's
/// ListenOptions.IPEndPoint, URLs and port 0 work as before) that only <see cref="LeanTransportFactory"/> binds; the
/// gRPC and HTTP ports keep plain IPEndPoints and Kestrel's socket transport.
/// </summary>
internal sealed class LeanEndPoint(IPAddress address, int port) : IPEndPoint(address, port)
{
    public LeanEndPoint(IPEndPoint endPoint)
        : this(endPoint.Address, endPoint.Port)
    {
    }
}
