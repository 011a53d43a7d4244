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

    public static CallInvoker Invoker(GrpcChannel channel, string? secret)
        => string.IsNullOrEmpty(secret) ? channel.CreateCallInvoker() : channel.Intercept(new BearerInterceptor(secret));

    private sealed class BearerInterceptor(string secret) : Interceptor
    {
        private readonly string _value = "Bearer " + secret;

        private ClientInterceptorContext<TReq, TResp> With<TReq, TResp>(ClientInterceptorContext<TReq, TResp> ctx)
            where TReq : class where TResp : class
        {
            var headers = ctx.Options.Headers ?? [];
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
