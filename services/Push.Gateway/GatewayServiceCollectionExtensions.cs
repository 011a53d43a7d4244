using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Push.Gateway;
using Push.Gateway.Connections;
using Push.Gateway.Control;
using Push.Gateway.Diagnostics;
using Push.Gateway.Grpc;
using Push.Gateway.Hosting;
using Push.Gateway.Http;
using Push.Gateway.Routing;
using Push.Gateway.Tokens;
using Push.Gateway.WebSockets;
using Push.Gateway.Workers;
using Push.Hosting.Cluster;
using Push.V1;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the gateway role.</summary>
internal static class GatewayServiceCollectionExtensions
{
    public static IServiceCollection AddPushGateway(this IServiceCollection services)
    {
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.SectionName).ValidateDataAnnotations()
            .Validate(o => string.IsNullOrEmpty(o.Token.HmacSecret) || System.Text.Encoding.UTF8.GetByteCount(o.Token.HmacSecret) >= 32, "Gateway:Token:HmacSecret must be at least 32 bytes (256 bits) long")
            .Validate(o => o.Token.HmacSecrets.TrueForAll(k => System.Text.Encoding.UTF8.GetByteCount(k) >= 32), "Gateway:Token:HmacSecrets:N must each be at least 32 bytes (256 bits) long")
            .Validate(o => o.Token.PublicKeys.TrueForAll(k => !string.IsNullOrWhiteSpace(k)), "Gateway:Token:PublicKeys:N must be PEM text or the path of a PEM file, not empty")
            .Validate(o => o.Token.KeyReloadInterval >= TimeSpan.FromSeconds(1) && o.Token.KeyReloadInterval <= TimeSpan.FromHours(1), "Gateway:Token:KeyReloadInterval must be between 00:00:01 and 01:00:00")
            .Validate(o => !string.IsNullOrEmpty(o.Token.QueryParameter), "Gateway:Token:QueryParameter must not be empty")
            .Validate(o => o.Token.ClockSkew >= TimeSpan.Zero && o.Token.ClockSkew <= TimeSpan.FromMinutes(10), "Gateway:Token:ClockSkew must be between 00:00:00 and 00:10:00")
            .ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        // A control request is at most one push payload plus its fields (a SendBatch's items share that bound).
        services.AddOptions<Grpc.AspNetCore.Server.GrpcServiceOptions<GatewayGrpcService>>()
            .Configure<Microsoft.Extensions.Options.IOptions<GatewayOptions>>((o, g) =>
            {
                o.MaxReceiveMessageSize = HttpApi.MaxMessageBytes(g.Value);
                o.Interceptors.Add<HttpApiLimitInterceptor>(); // the same bound for the HTTP/JSON form
            });
        // The HTTP/JSON form of GatewayService (google.api.http routes), served on the --api listener only (HttpApi).
        services.AddGrpc().AddJsonTranscoding(o => o.TypeRegistry = Push.Hosting.Security.JsonStatus.Details);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<GatewayIdentity>();
        services.AddSingleton(sp => new LocalMember(sp.GetRequiredService<GatewayIdentity>().Id, MemberRole.Gateway));
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<ConnectionTable>();
        services.AddSingleton<PeerDirectory>();
        services.AddSingleton<IPeerClients>(sp => sp.GetRequiredService<PeerDirectory>());
        services.AddSingleton<PeerFailures>();
        services.AddSingleton<ClusterRouter>();
        services.AddPushRouting();
        services.AddSingleton<StatusReporter>();
        services.TryAddSingleton<IWorkerConnector, GrpcWorkerConnector>();
        services.AddSingleton<WorkerRouter>();
        services.AddHostedService(sp => sp.GetRequiredService<WorkerRouter>());
        services.AddSingleton<DrainCoordinator>();
        services.AddHostedService(sp => sp.GetRequiredService<DrainCoordinator>());
        services.AddHostedService<HeartbeatService>();
        services.AddHostedService<MemoryTrimmer>();
        services.AddHostedService<HandshakePolicyReporter>();
        services.AddSingleton<PendingHandshakes>();
        services.AddSingleton(sp => new ResumeBudget(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value.ResumeBudgetBytes));
        services.AddSingleton<Push.Gateway.Resume.ResumeMetrics>();
        services.AddSingleton<Push.Gateway.Resume.MovedClients>();
        services.AddSingleton<Push.Gateway.Resume.CommandForwarder>();
        services.AddSingleton<Push.Gateway.Resume.ResumeCoordinator>();
        services.AddSingleton<Push.Gateway.Resume.HandoffOwner>();
        services.AddSingleton<HandshakeTokenKeys>();
        services.AddSingleton<HandshakeTokenValidator>();
        services.AddSingleton<WebSocketConnectionHandler>();
        return services;
    }

    public static IEndpointRouteBuilder MapPushGateway(this IEndpointRouteBuilder endpoints)
    {
        var metrics = endpoints.ServiceProvider.GetRequiredService<GatewayMetrics>();
        var table = endpoints.ServiceProvider.GetRequiredService<ConnectionTable>();
        metrics.SendQueueDepth = () => table.All.Sum(c => (long)c.QueueDepth);
        metrics.SendQueueMaxDepth = () => table.All.Select(c => (long)c.QueueDepth).DefaultIfEmpty(0).Max();
        metrics.SendQueueBytes = () => table.All.Sum(c => (long)c.QueuedBytes);
        metrics.SendQueueMaxBytes = () => table.All.Select(c => (long)c.QueuedBytes).DefaultIfEmpty(0).Max();
        endpoints.MapGrpcService<GatewayGrpcService>().RequireAuthorization(Push.Hosting.Security.PushAuth.Policy)
            .Add(b =>
            {
                // The transcoded (HTTP/JSON) endpoints get their refusals as JSON statuses (GrpcAuthResultHandler).
                if (b.Metadata.OfType<Microsoft.AspNetCore.Grpc.JsonTranscoding.GrpcJsonTranscodingMetadata>().Any())
                {
                    b.Metadata.Add(Push.Hosting.Security.JsonApiEndpoint.Instance);
                }
            });
        // Gateway-to-gateway handoffs of resumable connections: member scope (AccessHandler), never for backends.
        endpoints.MapGrpcService<Push.Gateway.Resume.ResumeGrpcService>().RequireAuthorization(Push.Hosting.Security.PushAuth.Policy);
        // Interest between gateways (mesh routing): member scope too.
        endpoints.MapGrpcService<Push.Gateway.Routing.Mesh.InterestGrpcService>().RequireAuthorization(Push.Hosting.Security.PushAuth.Policy);
        endpoints.MapPushHttpApi();
        return endpoints;
    }
}
