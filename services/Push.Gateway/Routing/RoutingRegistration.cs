using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Push.Gateway.Routing.Nats;

namespace Push.Gateway.Routing;

/// <summary>
/// routing-nats branch only, replaced by routing-mesh's AddPushRouting at the merge: Cluster:Routing=nats →
/// <see cref="NatsRouting"/>; mesh (default) → <see cref="BroadcastRouting"/>, a stand-in sending every push to every
/// gateway as before interest routing. The merged selection needs only: services.AddNatsRouting(), and
/// `if (o.IsNats) return sp.GetRequiredService&lt;NatsRouting&gt;();` in its IPushRouting factory.
/// </summary>
internal static class RoutingRegistration
{
    public static IServiceCollection AddPushRouting(this IServiceCollection services)
    {
        services.AddNatsRouting();
        services.AddSingleton<BroadcastRouting>();
        services.AddSingleton<IValidateOptions<NatsRoutingOptions>, RoutingValueValidator>();
        services.AddSingleton<IPushRouting>(sp => sp.GetRequiredService<IOptions<NatsRoutingOptions>>().Value.IsNats
            ? sp.GetRequiredService<NatsRouting>()
            : sp.GetRequiredService<BroadcastRouting>());
        return services;
    }

    private sealed class RoutingValueValidator : IValidateOptions<NatsRoutingOptions>
    {
        public ValidateOptionsResult Validate(string? name, NatsRoutingOptions options)
            => options.IsNats || string.Equals(options.Routing, "mesh", StringComparison.OrdinalIgnoreCase)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"Cluster:Routing must be mesh or nats, not '{options.Routing}'");
    }
}
