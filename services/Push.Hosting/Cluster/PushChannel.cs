using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Push.Hosting.Security;

namespace Push.Hosting.Cluster;

/// <summary>Creates the gRPC channels used between the suite's processes.</summary>
internal static class PushChannel
{
    /// <summary>A channel to <paramref name="address"/>; https:// addresses use the TLS settings of <paramref name="cluster"/>.</summary>
    public static GrpcChannel Create(string address, ClusterOptions? cluster = null)
    {
        if (!address.Contains("://", StringComparison.Ordinal))
        {
            address = "http://" + address;
        }
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(5),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            ConnectTimeout = TimeSpan.FromSeconds(2),
        };
        if (address.StartsWith("https://", StringComparison.OrdinalIgnoreCase) && TlsFiles.ClientOptions(cluster) is { } ssl)
        {
            handler.SslOptions = ssl;
        }
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            HttpVersion = HttpVersion.Version20,
            MaxReceiveMessageSize = 64 * 1024 * 1024,
            MaxSendMessageSize = 64 * 1024 * 1024,
        });
    }

    /// <summary>
    /// A call invoker that sends the member credential on every call. <paramref name="secret"/> is the configured
    /// Cluster:Secret; of a comma-separated list (a rotation in progress) the first value is sent.
    /// </summary>
    public static CallInvoker Invoker(GrpcChannel channel, string? secret)
        => Push.Control.BearerCredentials.Apply(channel.CreateCallInvoker(), SecretList.Parse(secret).Current);
}
