using Google.Rpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Push.Hosting.Security;

namespace Push.Gateway.Http;

/// <summary>
/// The HTTP/JSON form of the control API (push.v1.GatewayService through JSON transcoding and the google.api.http
/// routes of gateway_service.proto), served on its own HTTP/1.1 listener (--api) so that backends without gRPC (PHP,
/// curl) can push. The listener serves the transcoded routes and /openapi.json only; the other listeners never serve
/// them. Auth, limits and errors are those of the gRPC form.
/// </summary>
internal static class HttpApi
{
    /// <summary>Connection item set on connections of the HTTP API listener (Kestrel connection middleware).</summary>
    public const string ListenerItem = "push.http-api";

    /// <summary>Where the OpenAPI description is served on the API listener.</summary>
    public const string OpenApiPath = "/openapi.json";

    /// <summary>Marks connections of <paramref name="listen"/> as HTTP API connections.</summary>
    public static void MarkListener(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen)
        => listen.Use(next => connection =>
        {
            connection.Items[ListenerItem] = true;
            return next(connection);
        });

    /// <summary>
    /// Before authentication: the API listener answers its routes only (anything else: JSON NOT_FOUND), and the
    /// transcoded routes are not served elsewhere (404, as if they did not exist).
    /// </summary>
    public static IApplicationBuilder UsePushHttpApiGate(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<GatewayOptions>>();
        return app.Use((context, next) =>
        {
            var onApi = context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ListenerItem) == true;
            var metadata = context.GetEndpoint()?.Metadata;
            var transcoded = metadata?.GetMetadata<GrpcJsonTranscodingMetadata>() is not null;
            var apiRoute = transcoded || metadata?.GetMetadata<OpenApiEndpoint>() is not null;
            if (onApi == apiRoute)
            {
                if (transcoded && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                {
                    limit.MaxRequestBodySize = MaxBodyBytes(options.Value);
                }
                return next(context);
            }
            if (!onApi)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            return JsonStatus.WriteAsync(context.Response, JsonStatus.Create(Code.NotFound, null,
                $"no route {context.Request.Method} {context.Request.Path}: every GatewayService method is POST /v1/<method-in-kebab-case> with a JSON body (queries also GET with query parameters), e.g. POST /v1/send-to-group; see GET {OpenApiPath}"));
        });
    }

    /// <summary>
    /// Largest JSON body of a control request: twice the gRPC form's message bound (MaxPushSize + 64 KiB), room for a
    /// base64 binary payload (4/3) or an escaped text; the decoded request must still fit the gRPC bound
    /// (<see cref="HttpApiLimitInterceptor"/>).
    /// </summary>
    public static long MaxBodyBytes(GatewayOptions options) => 2L * MaxMessageBytes(options);

    /// <summary>The gRPC form's request bound (GrpcServiceOptions of the control service).</summary>
    public static int MaxMessageBytes(GatewayOptions options) => options.MaxPushSize + Push.Hosting.GrpcLimits.ControlEnvelopeBytes;

    /// <summary>Maps GET /openapi.json (the description of every transcoded route, built from the contract).</summary>
    public static IEndpointRouteBuilder MapPushHttpApi(this IEndpointRouteBuilder endpoints)
    {
        var document = OpenApiDocument.Build(Push.V1.GatewayService.Descriptor);
        endpoints.MapGet(OpenApiPath, () => Results.Text(document, "application/json; charset=utf-8"))
            .WithMetadata(new OpenApiEndpoint())
            .AllowAnonymous();
        return endpoints;
    }

    /// <summary>Endpoint metadata of the OpenAPI description (served on the API listener only).</summary>
    internal sealed class OpenApiEndpoint;
}
