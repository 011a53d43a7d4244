using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Push.Hosting.Cluster;

namespace Push.Worker;

/// <summary>Settings of a business worker host made with <see cref="PushWorkerHost"/>.</summary>
public sealed class PushWorkerHostOptions
{
    /// <summary>Registry addresses to register with (at least one).</summary>
    public IList<string> Registry { get; } = [];

    /// <summary>The worker's gRPC endpoint, e.g. "127.0.0.1:0" (port 0 picks a free port). Defaults to 127.0.0.1:0.</summary>
    public string Grpc { get; set; } = "127.0.0.1:0";

    /// <summary>Address gateways use to reach this worker; defaults to the bound endpoint.</summary>
    public string? Advertise { get; set; }

    /// <summary>The cluster's shared secret, if any.</summary>
    public string? Secret { get; set; }
}

/// <summary>
/// Builds a complete business worker process around an events class: it serves push.v1.BusinessService, registers
/// with the registries and receives the events of every gateway. Call RunAsync (or StartAsync) on the result.
/// </summary>
public static class PushWorkerHost
{
    /// <summary>Creates the worker host; <paramref name="configure"/> may add services for the events class.</summary>
    public static WebApplication Create<TEvents>(PushWorkerHostOptions options, Action<IServiceCollection>? configure = null)
        where TEvents : BusinessEvents
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Registry.Count == 0)
        {
            throw new ArgumentException("at least one registry address is required", nameof(options));
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        var settings = new Dictionary<string, string?>();
        for (var i = 0; i < options.Registry.Count; i++)
        {
            settings[$"Cluster:Registry:{i}"] = options.Registry[i];
        }
        settings["Cluster:Secret"] = options.Secret;
        settings["Cluster:Advertise"] = options.Advertise;
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddPushCore();
        builder.Services.AddPushWorker<TEvents>();
        builder.Services.AddHostedService<RegistryClientService>();
        configure?.Invoke(builder.Services);
        var endpoint = ParseEndpoint(options.Grpc);
        ListenOptions? bound = null;
        builder.WebHost.ConfigureKestrel(k => k.Listen(endpoint, lo =>
        {
            lo.Protocols = HttpProtocols.Http2;
            bound = lo;
        }));
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGrpcReflectionService().RequireAuthorization(Push.Hosting.Security.PushAuth.Policy);
        app.MapPushWorker();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var ep = bound!.IPEndPoint!;
            app.Services.GetRequiredService<AdvertisedAddress>().Set(options.Advertise ?? $"http://{(ep.Address.Equals(IPAddress.Any) ? "127.0.0.1" : ep.Address.ToString())}:{ep.Port}");
        });
        return app;
    }

    private static IPEndPoint ParseEndpoint(string spec)
    {
        var colon = spec.LastIndexOf(':');
        if (colon <= 0 || !IPAddress.TryParse(spec[..colon].Trim('[', ']'), out var ip) || !int.TryParse(spec[(colon + 1)..], out var port))
        {
            throw new ArgumentException($"'{spec}' is not IP:PORT", nameof(spec));
        }
        return new IPEndPoint(ip, port);
    }
}
