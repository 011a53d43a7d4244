using System.Net;
using Grpc.Core;
using Grpc.Core.Interceptors;
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
        => SecretList.Parse(secret).Current is { } current ? channel.Intercept(new BearerInterceptor(current)) : channel.CreateCallInvoker();

    /// <summary>
    /// Adds "authorization: Bearer ..." to each call's own copy of the headers. The caller's Metadata is never
    /// mutated: call options are often shared (one per scatter, one per client), and adding to a shared Metadata
    /// sent two authorization headers on every later call, which peers refused as UNAUTHENTICATED.
    /// </summary>
    internal sealed class BearerInterceptor(string secret) : Interceptor
    {
        private readonly string _value = "Bearer " + secret;

        internal ClientInterceptorContext<TReq, TResp> With<TReq, TResp>(ClientInterceptorContext<TReq, TResp> ctx)
            where TReq : class where TResp : class
        {
            var headers = new Metadata();
            if (ctx.Options.Headers is { } given)
            {
                foreach (var entry in given)
                {
                    if (!string.Equals(entry.Key, "authorization", StringComparison.OrdinalIgnoreCase))
                    {
                        headers.Add(entry);
                    }
                }
            }
            headers.Add("authorization", _value);
            return new ClientInterceptorContext<TReq, TResp>(ctx.Method, ctx.Host, ctx.Options.WithHeaders(headers));
        }

        public override AsyncUnaryCall<TResp> AsyncUnaryCall<TReq, TResp>(TReq request, ClientInterceptorContext<TReq, TResp> context, AsyncUnaryCallContinuation<TReq, TResp> continuation)
            => continuation(request, With(context));

        public override AsyncServerStreamingCall<TResp> AsyncServerStreamingCall<TReq, TResp>(TReq request, ClientInterceptorContext<TReq, TResp> context, AsyncServerStreamingCallContinuation<TReq, TResp> continuation)
            => continuation(request, With(context));

        public override AsyncDuplexStreamingCall<TReq, TResp> AsyncDuplexStreamingCall<TReq, TResp>(ClientInterceptorContext<TReq, TResp> context, AsyncDuplexStreamingCallContinuation<TReq, TResp> continuation)
            => continuation(With(context));

        public override AsyncClientStreamingCall<TReq, TResp> AsyncClientStreamingCall<TReq, TResp>(ClientInterceptorContext<TReq, TResp> context, AsyncClientStreamingCallContinuation<TReq, TResp> continuation)
            => continuation(With(context));
    }
}
