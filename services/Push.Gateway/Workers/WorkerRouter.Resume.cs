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

    /// <summary>
    /// Pins a connection that moved here to the worker it had on its old gateway, when this gateway has an open stream
    /// to it (the worker keeps its application state for the client); otherwise the next event picks the least-loaded.
    /// </summary>
    public void PinPreferred(ClientConnection c, string workerId)
    {
        if (workerId.Length == 0)
        {
            return;
        }
        lock (_rerouteSync)
        {
            foreach (var link in _open)
            {
                if (link.IsOpen && !link.IsRemoved && string.Equals(link.WorkerId, workerId, StringComparison.Ordinal))
                {
                    lock (c.SessionSync)
                    {
                        if (!c.HasLivePinLocked)
                        {
                            c.PinLocked(link);
                        }
                    }
                    return;
                }
            }
        }
    }
}
