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
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<GatewayIdentity>();
        services.AddSingleton(sp => new LocalMember(sp.GetRequiredService<GatewayIdentity>().Id, MemberRole.Gateway));
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<ConnectionTable>();
        services.AddSingleton<PeerDirectory>();
        services.AddSingleton<ClusterRouter>();
        services.AddSingleton<StatusReporter>();
        services.AddSingleton<WorkerRouter>();
        services.AddHostedService(sp => sp.GetRequiredService<WorkerRouter>());
        services.AddSingleton<DrainCoordinator>();
        services.AddHostedService(sp => sp.GetRequiredService<DrainCoordinator>());
        services.AddHostedService<HeartbeatService>();
        services.AddSingleton<WebSocketConnectionHandler>();
        return services;
    }

    public static IEndpointRouteBuilder MapPushGateway(this IEndpointRouteBuilder endpoints)
    {
        var metrics = endpoints.ServiceProvider.GetRequiredService<GatewayMetrics>();
        var table = endpoints.ServiceProvider.GetRequiredService<ConnectionTable>();
        metrics.SendQueueDepth = () => table.All.Sum(c => (long)c.QueueDepth);
        metrics.SendQueueMaxDepth = () => table.All.Select(c => (long)c.QueueDepth).DefaultIfEmpty(0).Max();
        endpoints.MapGrpcService<GatewayGrpcService>();
        return endpoints;
    }
}
