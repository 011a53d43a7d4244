using Push.Gateway.Connections;
using Push.V1;

namespace Push.Gateway.Workers;

internal sealed partial class WorkerRouter
{
    /// <summary>
    /// Tells the worker this gateway's stream pinned the connection to that it lives on another gateway now (it
    /// releases what it keeps for this stream; nothing closed), and releases the pin. Without a live pin there is no
    /// worker here that knows the client: nothing to tell.
    /// </summary>
    public static void PostMoved(ClientConnection c, string toGateway)
    {
        var e = new Event { ClientId = c.ClientId, Moved = new MovedEvent { ToGatewayId = toGateway } };
        lock (c.SessionSync)
        {
            if (c.HasLivePinLocked)
            {
                Stamp(c, e);
                c.Worker!.Queue.Post(e, e.CalculateSize(), null, out _);
            }
            c.ReleasePinLocked();
        }
    }
}
