using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Push.Gateway.Routing.Mesh;

namespace Push.Gateway.Routing;

/// <summary>Registers the interest routing of Cluster:Routing (mesh by default).</summary>
internal static class RoutingServiceCollectionExtensions
{
    public static IServiceCollection AddPushRouting(this IServiceCollection services)
    {
        services.AddOptions<RoutingOptions>().BindConfiguration("Cluster").ValidateOnStart();
        services.AddSingleton<IValidateOptions<RoutingOptions>, RoutingOptionsValidator>();
        services.AddSingleton<RoutingMetrics>();
        services.AddSingleton<Control.PeerScatter>();
        services.AddSingleton<MeshInterestClient>();
        services.AddHostedService(sp => sp.GetRequiredService<MeshInterestClient>());
        services.AddSingleton<MeshPushRouting>();
        Nats.NatsRoutingRegistration.AddNatsRouting(services);
        services.AddSingleton<IPushRouting>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<RoutingOptions>>().Value;
            if (o.IsNats)
            {
                return sp.GetRequiredService<Nats.NatsRouting>();
            }
            return sp.GetRequiredService<MeshPushRouting>();
        });
        return services;
    }

    /// <summary>Says what is wrong (the generic Validate message cannot name the value).</summary>
    private sealed class RoutingOptionsValidator : IValidateOptions<RoutingOptions>
    {
        public ValidateOptionsResult Validate(string? name, RoutingOptions options)
            => options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
