using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Push.Gateway.Routing.Nats;

/// <summary>
/// Registers NATS routing's parts. The routing selection (AddPushRouting) calls <see cref="AddNatsRouting"/> and
/// returns <see cref="NatsRouting"/> as <see cref="IPushRouting"/> when Cluster:Routing=nats; nothing here connects in
/// mesh mode.
/// </summary>
internal static class NatsRoutingRegistration
{
    public static IServiceCollection AddNatsRouting(this IServiceCollection services)
    {
        services.AddOptions<NatsRoutingOptions>().BindConfiguration("Cluster").ValidateOnStart();
        services.AddSingleton<IValidateOptions<NatsRoutingOptions>, NatsRoutingOptionsValidator>();
        services.AddSingleton<NatsMetrics>();
        services.AddSingleton<NatsLocalDelivery>();
        services.AddSingleton<NatsRouting>();
        services.AddHostedService<NatsRoutingHost>();
        services.AddHealthChecks().AddCheck<NatsHealthCheck>("nats-routing", tags: ["ready"]);
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

    // Connects (and subscribes to PREFIX.all) at start in nats mode; the routing itself exists from the first
    // ConnectionTable on, so no membership change is missed.
    private sealed class NatsRoutingHost(IOptions<NatsRoutingOptions> options, IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
            => options.Value.IsNats ? services.GetRequiredService<NatsRouting>().StartAsync(cancellationToken) : Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken)
            => options.Value.IsNats ? services.GetRequiredService<NatsRouting>().StopAsync(cancellationToken) : Task.CompletedTask;
    }
}
