using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.Extensions.Options;
using Push.Hosting;

namespace Push.Gateway.Http;

/// <summary>
/// Gives a transcoded (HTTP/JSON) control request the gRPC form's message bound: grpc-dotnet checks a gRPC message's
/// size from its header, JSON transcoding does not, so a decoded request larger than MaxPushSize + 64 KiB is refused
/// here (RESOURCE_EXHAUSTED, reason LIMIT_EXCEEDED) before the service sees it. gRPC calls pass untouched.
/// </summary>
internal sealed class HttpApiLimitInterceptor(IOptions<GatewayOptions> options) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(request, context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(request, context);
        return continuation(request, responseStream, context);
    }

    private void Check<TRequest>(TRequest request, ServerCallContext context)
    {
        if (request is not IMessage message || context.GetHttpContext().GetEndpoint()?.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is null)
        {
            return;
        }
        var limit = HttpApi.MaxMessageBytes(options.Value);
        var size = message.CalculateSize();
        if (size > limit)
        {
            throw Errors.LimitExceeded("request", $"is {size} bytes as a protobuf message, more than the {limit}-byte limit of a control request (Gateway:MaxPushSize + 64 KiB), as on the gRPC port");
        }
    }
}
