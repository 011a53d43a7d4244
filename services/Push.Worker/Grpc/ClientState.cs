using Push.Control;
using Push.V1;

namespace Push.Worker.Grpc;

/// <summary>
/// One client of a gateway stream: its context (session copy, uid) and the commands its current callback made, which
/// go to the stream when the callback returns. Commands made outside a callback go to <c>outsideCallback</c> at once.
/// </summary>
internal sealed class ClientState
{
    public ClientState(string clientId, string gatewayId, PushControlClient control, Action<Command> outsideCallback)
    {
        Context = new ClientContext(clientId, gatewayId, new ClientSession(), control, c =>
        {
            // The check and the add are one step: a thread the callback started may still send after it returned.
            lock (Pending)
            {
                if (InCallback)
                {
                    Pending.Add(c);
                    return;
                }
            }
            outsideCallback(c);
        });
    }

    public ClientContext Context { get; }

    /// <summary>Commands of the running callback, in order.</summary>
    public List<Command> Pending { get; } = [];

    public volatile bool InCallback;
}
