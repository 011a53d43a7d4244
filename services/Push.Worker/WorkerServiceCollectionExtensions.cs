using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Push.Hosting.Cluster;
using Push.V1;
using Push.Worker;
using Push.Worker.Grpc;
using Push.Worker.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a business worker.</summary>
public static class WorkerServiceCollectionExtensions
{
    /// <summary>Adds a business worker whose callbacks are <typeparamref name="TEvents"/>.</summary>
    public static IServiceCollection AddPushWorker<TEvents>(this IServiceCollection services)
        where TEvents : BusinessEvents
    {
        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        // Gateways send batches of events up to a documented size (GrpcLimits.StreamBatchBytes).
        services.AddGrpc().AddServiceOptions<BusinessGrpcService>(o => o.MaxReceiveMessageSize = Push.Hosting.GrpcLimits.StreamReceiveBytes);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<BusinessEvents, TEvents>();
        services.AddSingleton<GatewayClients>();
        services.AddSingleton<HandledSeqs>();
        services.AddSingleton<Push.Worker.Diagnostics.WorkerMetrics>();
        services.AddSingleton(new LocalMember(LocalMember.NewId(), MemberRole.Worker));
        services.AddHostedService<WorkerLifecycleService>();
        services.AddSingleton<GatewaySessions>();
        services.AddHostedService<WorkerDrainService>();
        return services;
    }

    /// <summary>Maps push.v1.BusinessService.</summary>
    public static IEndpointRouteBuilder MapPushWorker(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<BusinessGrpcService>().RequireAuthorization(Push.Hosting.Security.PushAuth.Policy);
        return endpoints;
    }
}
