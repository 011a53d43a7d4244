using Microsoft.Extensions.Options;
using Push.Control;
using Push.Hosting;
using Push.Hosting.Cluster;

namespace Push.Worker.Grpc;

/// <summary>Control API clients of the gateways that stream to this worker, one per gateway address.</summary>
internal sealed class GatewayClients(IOptions<ClusterOptions> options) : IDisposable
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, (global::Grpc.Net.Client.GrpcChannel Channel, PushControlClient Client)> _clients = new(StringComparer.Ordinal);

    public PushControlClient Get(string address)
    {
        lock (_sync)
        {
            if (!_clients.TryGetValue(address, out var c))
            {
                var channel = PushChannel.Create(address, options.Value);
                c = (channel, new PushControlClient(channel.CreateCallInvoker(), new PushControlOptions { Secret = options.Value.OutgoingSecret }));
                _clients[address] = c;
            }
            return c.Client;
        }
    }

    public void Dispose()
    {
        lock (_sync)
        {
            foreach (var c in _clients.Values)
            {
                c.Channel.Dispose();
            }
            _clients.Clear();
        }
    }
}
