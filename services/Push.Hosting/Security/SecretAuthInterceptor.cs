using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace Push.Hosting.Security;

/// <summary>
/// Requires "authorization: Bearer SECRET" on every gRPC call when Cluster:Secret is set
/// (GatewayWorker's secretKey). Health checks stay open so probes work without the secret.
/// </summary>
internal sealed class SecretAuthInterceptor(IOptions<ClusterOptions> options) : Interceptor
{
    private readonly byte[]? _expected = string.IsNullOrEmpty(options.Value.Secret) ? null : Encoding.UTF8.GetBytes("Bearer " + options.Value.Secret);

    private void Check(ServerCallContext context)
    {
        if (_expected is null || context.Method.StartsWith("/grpc.health.v1.", StringComparison.Ordinal))
        {
            return;
        }
        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null)
        {
            throw Errors.Unauthenticated("missing credentials: send the header 'authorization: Bearer <secret>' (Cluster:Secret / PUSH_SECRET)");
        }
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header), _expected))
        {
            throw Errors.Unauthenticated("invalid credentials: the bearer token does not match the cluster secret");
        }
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }
}
