using Grpc.Core;
using Microsoft.Extensions.Options;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Workers;

/// <summary>Opens StreamEvents calls to one worker (a gRPC channel in production, fakes in unit tests).</summary>
internal interface IWorkerCalls : IDisposable
{
    AsyncDuplexStreamingCall<StreamEventsRequest, StreamEventsResponse> StreamEvents(CancellationToken cancellationToken);
}

/// <summary>Creates the <see cref="IWorkerCalls"/> of a worker when the gateway starts a link to it.</summary>
internal interface IWorkerConnector
{
    IWorkerCalls Connect(Member worker);
}

/// <summary>One gRPC channel per worker link, with the cluster's TLS settings and member credential.</summary>
internal sealed class GrpcWorkerConnector(IOptions<ClusterOptions> cluster) : IWorkerConnector
{
    public IWorkerCalls Connect(Member worker) => new Calls(worker.Address, cluster.Value);

    private sealed class Calls : IWorkerCalls
    {
        private readonly global::Grpc.Net.Client.GrpcChannel _channel;
        private readonly BusinessService.BusinessServiceClient _client;

        public Calls(string address, ClusterOptions cluster)
        {
            _channel = PushChannel.Create(address, cluster);
            _client = new BusinessService.BusinessServiceClient(PushChannel.Invoker(_channel, cluster.Secret));
        }

        public AsyncDuplexStreamingCall<StreamEventsRequest, StreamEventsResponse> StreamEvents(CancellationToken cancellationToken)
            => _client.StreamEvents(cancellationToken: cancellationToken);

        public void Dispose() => _channel.Dispose();
    }
}
