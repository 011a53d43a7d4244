using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Push.Registry.Grpc;
using Push.Registry.Hosting;
using Push.Registry.Membership;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the registry role.</summary>
internal static class RegistryServiceCollectionExtensions
{
    public static IServiceCollection AddPushRegistry(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<MemberTable>();
        services.AddHostedService<LeaseSweeperService>();
        return services;
    }

    public static IEndpointRouteBuilder MapPushRegistry(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<RegistryGrpcService>().RequireAuthorization(Push.Hosting.Security.PushAuth.Policy);
        return endpoints;
    }
}
