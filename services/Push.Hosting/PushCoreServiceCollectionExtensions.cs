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
        services.AddOptions<ClusterOptions>().BindConfiguration(ClusterOptions.SectionName).ValidateDataAnnotations()
            .Validate(o => o.ControlSecrets.IsEmpty || !o.MemberSecrets.IsEmpty, "Cluster:ControlSecret (--control-secret) needs Cluster:Secret (--secret) as well: the registry, gateways and workers must authenticate each other")
            .Validate(o => o.MemberSecrets.Values.Concat(o.ControlSecrets.Values).All(v => v.Length >= SecretList.MinLength), $"every value of Cluster:Secret and Cluster:ControlSecret (comma-separated) must be at least {SecretList.MinLength} characters, e.g. openssl rand -hex 32")
            .ValidateOnStart();
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
