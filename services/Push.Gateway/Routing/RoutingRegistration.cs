using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Push.Gateway.Routing.Nats;

namespace Push.Gateway.Routing;

/// <summary>
/// Registers <see cref="IPushRouting"/> by Cluster:Routing: nats → <see cref="NatsRouting"/>; mesh (default) →
/// <see cref="BroadcastRouting"/> (routing-nats branch: the lead replaces it with routing-mesh's mesh mode).
/// </summary>
internal static class RoutingRegistration
{
    public static IServiceCollection AddPushRouting(this IServiceCollection services)
    {
        services.AddOptions<NatsRoutingOptions>().BindConfiguration("Cluster").ValidateOnStart();
        services.AddSingleton<IValidateOptions<NatsRoutingOptions>, NatsRoutingOptionsValidator>();
        services.AddSingleton<NatsMetrics>();
        services.AddSingleton<NatsLocalDelivery>();
        services.AddSingleton<NatsRouting>();
        services.AddSingleton<BroadcastRouting>();
        services.AddSingleton<IPushRouting>(sp => sp.GetRequiredService<IOptions<NatsRoutingOptions>>().Value.IsNats
            ? sp.GetRequiredService<NatsRouting>()
            : sp.GetRequiredService<BroadcastRouting>());
        services.AddHostedService<RoutingHost>();
        services.AddHealthChecks().AddCheck<NatsHealthCheck>("routing", tags: ["ready"]);
        return services;
    }

    private sealed class NatsRoutingOptionsValidator : IValidateOptions<NatsRoutingOptions>
    {
        public ValidateOptionsResult Validate(string? name, NatsRoutingOptions options)
        {
            var errors = options.Errors().ToList();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }

    // Creates the routing before any connection can join a group (it hooks ConnectionTable) and runs NATS's lifetime.
    private sealed class RoutingHost(IServiceProvider services) : IHostedService
    {
        private IHostedService? _inner;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            _inner = services.GetRequiredService<IPushRouting>() as IHostedService;
            return _inner?.StartAsync(cancellationToken) ?? Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => _inner?.StopAsync(cancellationToken) ?? Task.CompletedTask;
    }
}
