using Microsoft.Extensions.DependencyInjection.Extensions;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.Hosting.Security;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>What every role's host needs: cluster options, membership, gRPC with auth, reflection and health.</summary>
internal static class PushCoreServiceCollectionExtensions
{
    public static IServiceCollection AddPushCore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<ClusterOptions>().BindConfiguration(ClusterOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<ClusterMembership>();
        services.TryAddSingleton<AdvertisedAddress>();
        services.AddPushAuth();
        services.AddGrpc(o =>
        {
            // Services that take more say so (AddServiceOptions); anything else gets small messages only.
            o.MaxReceiveMessageSize = GrpcLimits.DefaultReceiveBytes;
        });
        services.AddGrpcReflection();
        return services;
    }
}
