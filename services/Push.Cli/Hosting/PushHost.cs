using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Push.Cli.Commands;
using Push.Cli.Demo;
using Push.Gateway;
using Push.Gateway.Http;
using Push.Gateway.Transport;
using Push.Gateway.WebSockets;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.Hosting.Security;


namespace Push.Cli.Hosting;

/// <summary>Builds the web host of one or more roles (registry, gateway, worker) from the command line.</summary>
internal static partial class PushHost
{
    [LoggerMessage(1, LogLevel.Warning, "SECURITY: the gRPC port listens on a non-loopback address without a cluster secret or client certificates: anyone who reaches it can push to every client. Set --secret / PUSH_SECRET (or --grpc-client-ca).", EventName = "InsecureBind")]
    private static partial void InsecureBind(ILogger logger);

    [LoggerMessage(2, LogLevel.Information, "Only a member secret is set: backends must hold it to push, and it also lets them register members. Give backends their own credential with --control-secret / PUSH_CONTROL_SECRET.", EventName = "NoControlSecret")]
    private static partial void NoControlSecret(ILogger logger);

    [Flags]
    public enum Roles
    {
        None = 0,
        Registry = 1,
        Gateway = 2,
        Worker = 4,
    }

    public static WebApplication Build(Roles roles, CliArgs args, string[]? extraConfig = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "push" });
        builder.Configuration.AddJsonFile("appsettings.json", optional: true);
        builder.Configuration.AddEnvironmentVariables();
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        MapEnvironment(overrides);
        if (roles.HasFlag(Roles.Gateway) && roles.HasFlag(Roles.Registry) && roles.HasFlag(Roles.Worker))
        {
            // the demo page talks to the demo worker: `push start` serves it, `push start --no-demo-worker` does not
            overrides.TryAdd("Gateway:DemoPage", "true");
        }
        var registries = args.All("registry");
        for (var i = 0; i < registries.Count; i++)
        {
            overrides[$"Cluster:Registry:{i}"] = registries[i];
        }
        if (args.Get("advertise") is { } adv)
        {
            overrides["Cluster:Advertise"] = adv;
        }
        if (args.Get("secret") is { } secret)
        {
            overrides["Cluster:Secret"] = secret;
        }
        if (args.Get("control-secret") is { } controlSecret)
        {
            overrides["Cluster:ControlSecret"] = controlSecret;
        }
        foreach (var kv in args.All("set").Concat(extraConfig ?? []))
        {
            var eq = kv.IndexOf('=');
            if (eq <= 0)
            {
                throw new ArgumentException($"--set expects KEY=VALUE, got '{kv}'");
            }
            overrides[kv[..eq]] = kv[(eq + 1)..];
        }
        builder.Configuration.AddInMemoryCollection(overrides);

        ConfigureLogging(builder.Logging, args.Get("log-format") ?? Environment.GetEnvironmentVariable("PUSH_LOG_FORMAT"));

        var s = builder.Services;
        s.AddPushCore();
        s.AddGrpcHealthChecks().AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        s.AddHealthChecks().AddCheck("live", () => HealthCheckResult.Healthy(), tags: ["live"]);
        s.AddSingleton<StartupCheck>(); // one instance: it remembers that the process has started
        s.AddHealthChecks().AddCheck<StartupCheck>("startup", tags: ["startup"]);
        s.Configure<HostOptions>(o =>
        {
            o.ShutdownTimeout = TimeSpan.FromSeconds(30);
            // The gateway's drain and the worker's drain run side by side (in `push start` each waits on the other).
            o.ServicesStopConcurrently = true;
        });
        s.AddSingleton(new RoleSet(roles));

        if (roles.HasFlag(Roles.Registry))
        {
            s.AddPushRegistry();
        }
        if (roles.HasFlag(Roles.Gateway))
        {
            s.AddPushGateway();
        }
        if (roles.HasFlag(Roles.Worker))
        {
            s.AddPushWorker<ChatEvents>();
        }
        if (roles.HasFlag(Roles.Gateway) || roles.HasFlag(Roles.Worker))
        {
            s.AddHostedService<RegistryClientService>();
            if (roles.HasFlag(Roles.Registry))
            {
                // all-in-one: the embedded registry is this process's own gRPC endpoint
                s.PostConfigure<ClusterOptions>(o => o.UseOwnAddressAsRegistry = o.Registry.Count == 0);
            }
        }

        s.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName(roles)))
            .WithMetrics(m =>
            {
                m.AddMeter("Push.Gateway", "Push.Registry", "Push.Worker", "Push.Security", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Hosting", "System.Runtime");
                m.AddPrometheusExporter();
                if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
                {
                    m.AddOtlpExporter();
                }
            })
            .WithTracing(t =>
            {
                // Spans cost on the hot path: they are recorded only when an exporter is configured.
                if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
                {
                    return;
                }
                t.AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/metrics") && !ctx.Request.Path.StartsWithSegments("/healthz"));
                t.AddGrpcClientInstrumentation();
                t.AddSource("Push.Gateway", "Push.Worker");
                t.AddOtlpExporter();
            });

        var endpoints = new BoundEndpoints();
        s.AddSingleton(endpoints);
        var defaultWs = roles.HasFlag(Roles.Registry) ? "127.0.0.1:8282" : "0.0.0.0:8282";
        var wsSpec = args.Get("ws") ?? Environment.GetEnvironmentVariable("PUSH_WS") ?? defaultWs;
        var grpcSpec = args.Get("grpc") ?? Environment.GetEnvironmentVariable("PUSH_GRPC") ?? "127.0.0.1:8283";
        var httpSpec = args.Get("http") ?? Environment.GetEnvironmentVariable("PUSH_HTTP") ?? "127.0.0.1:8284";
        // The HTTP/JSON control API (a gateway's): on for `push start` (loopback), off for `push gateway` unless set.
        var apiSpec = args.Get("api") ?? Environment.GetEnvironmentVariable("PUSH_API") ?? (roles.HasFlag(Roles.Registry) ? "127.0.0.1:8285" : "none");
        var certFile = args.Get("tls-cert") ?? Environment.GetEnvironmentVariable("PUSH_TLS_CERT");
        var keyFile = args.Get("tls-key") ?? Environment.GetEnvironmentVariable("PUSH_TLS_KEY");
        var grpcCertFile = args.Get("grpc-tls-cert") ?? Environment.GetEnvironmentVariable("PUSH_GRPC_TLS_CERT");
        var grpcKeyFile = args.Get("grpc-tls-key") ?? Environment.GetEnvironmentVariable("PUSH_GRPC_TLS_KEY");
        var clientCaFile = args.Get("grpc-client-ca") ?? Environment.GetEnvironmentVariable("PUSH_GRPC_CLIENT_CA");
        if (clientCaFile is not null && grpcCertFile is null)
        {
            throw new ArgumentException("--grpc-client-ca needs --grpc-tls-cert (client certificates are only asked for over TLS)");
        }
        if (clientCaFile is not null)
        {
            // One private CA for the cluster: trust it for peers too, and present this node's certificate to them.
            s.PostConfigure<ClusterOptions>(o =>
            {
                if (string.IsNullOrEmpty(o.TlsCa))
                {
                    o.TlsCa = clientCaFile;
                }
                if (string.IsNullOrEmpty(o.TlsClientCert))
                {
                    o.TlsClientCert = grpcCertFile;
                    o.TlsClientKey = grpcKeyFile;
                }
            });
        }
        X509Certificate2Collection? clientRoots;
        try
        {
            clientRoots = clientCaFile is null ? null : TlsFiles.LoadBundle(clientCaFile);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException)
        {
            throw new ArgumentException($"cannot load --grpc-client-ca: {ex.Message}", ex);
        }
        s.TryAddSingleton<TlsMetrics>();
        var leanWs = roles.HasFlag(Roles.Gateway) && WsTransport(builder.Configuration) == WebSocketTransport.Lean;
        if (leanWs)
        {
            // Registered after Kestrel's socket transport, so Kestrel asks it first; it binds only the WebSocket port's LeanEndPoint.
            s.AddSingleton<IConnectionListenerFactory, LeanTransportFactory>();
        }
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
            k.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(10);
            k.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(10);
            k.Limits.Http2.MaxStreamsPerConnection = 1000;
            if (roles.HasFlag(Roles.Gateway))
            {
                var wsEndPoint = ParseEndpoint(wsSpec, "--ws");
                k.Listen(leanWs ? new LeanEndPoint(wsEndPoint) : wsEndPoint, lo =>
                {
                    lo.Protocols = HttpProtocols.Http1;
                    if (certFile is not null)
                    {
                        // The whole chain of the PEM file is sent (cert-manager's tls.crt holds leaf + intermediates);
                        // each TLS handshake takes the certificate of now: the files are reloaded when they change.
                        var reloader = CertificateReloader.Create(k.ApplicationServices, "ws", certFile, keyFile, "--tls-cert/--tls-key");
                        lo.UseHttps(https =>
                        {
                            https.ServerCertificate = reloader.Certificate;
                            https.OnAuthenticate = (_, ssl) => (ssl.ServerCertificate, ssl.ServerCertificateContext) = (null, reloader.Context);
                        });
                    }
                    lo.UseConnectionHandler<WebSocketConnectionHandler>();
                    endpoints.Ws = lo;
                    endpoints.WsTls = certFile is not null;
                });
            }
            k.Listen(ParseEndpoint(grpcSpec, "--grpc"), lo =>
            {
                endpoints.Grpc = lo;
                if (grpcCertFile is null)
                {
                    lo.Protocols = HttpProtocols.Http2; // h2c: cleartext HTTP/2 with prior knowledge
                    return;
                }
                // TLS: ALPN negotiates h2 (gRPC); HTTP/1.1 is offered so that ALPN-less clients get an error, not a reset.
                lo.Protocols = HttpProtocols.Http1AndHttp2;
                endpoints.GrpcTls = true;
                endpoints.GrpcMutualTls = clientRoots is not null;
                UseGrpcTls(lo, "grpc");
            });
            if (roles.HasFlag(Roles.Gateway) && !string.Equals(apiSpec, "none", StringComparison.OrdinalIgnoreCase))
            {
                k.Listen(ParseEndpoint(apiSpec, "--api"), lo =>
                {
                    // The control API's HTTP/JSON form: HTTP/1.1 (PHP, curl); over the gRPC port's TLS (and client
                    // certificates) when it has them, where ALPN may pick h2 as well.
                    HttpApi.MarkListener(lo);
                    endpoints.Api = lo;
                    lo.Protocols = grpcCertFile is null ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2;
                    if (grpcCertFile is not null)
                    {
                        endpoints.ApiTls = true;
                        UseGrpcTls(lo, "api");
                    }
                });
            }

            void UseGrpcTls(ListenOptions lo, string name)
            {
                var reloader = CertificateReloader.Create(k.ApplicationServices, name, grpcCertFile!, grpcKeyFile, "--grpc-tls-cert/--grpc-tls-key");
                lo.UseHttps(https =>
                {
                    https.ServerCertificate = reloader.Certificate;
                    https.OnAuthenticate = (_, ssl) => (ssl.ServerCertificate, ssl.ServerCertificateContext) = (null, reloader.Context);
                    if (clientRoots is not null)
                    {
                        https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                        https.ClientCertificateValidation = (cert, chain, _) => TlsFiles.ChainsTo(cert, clientRoots, chain, client: true);
                    }
                });
            }
            if (!string.Equals(httpSpec, "none", StringComparison.OrdinalIgnoreCase))
            {
                k.Listen(ParseEndpoint(httpSpec, "--http"), lo =>
                {
                    lo.Protocols = HttpProtocols.Http1;
                    endpoints.Http = lo;
                });
            }
        });

        var app = builder.Build();
        TlsFiles.ClientLogger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Push.Hosting.Security.ClientCertificate");
        // Authentication and authorization run before any gRPC endpoint reads its request body.
        if (roles.HasFlag(Roles.Gateway))
        {
            app.UsePushHttpApiGate(); // the HTTP/JSON API's routes on its listener only
        }
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGrpcReflectionService().RequireAuthorization(PushAuth.Policy);
        app.MapGrpcHealthChecksService();
        app.MapHealthChecks("/healthz/live", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = c => c.Tags.Contains("live") });
        app.MapHealthChecks("/healthz/ready", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        app.MapHealthChecks("/healthz/startup", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = c => c.Tags.Contains("startup") });
        app.MapPrometheusScrapingEndpoint("/metrics");
        if (roles.HasFlag(Roles.Registry))
        {
            app.MapPushRegistry();
        }
        if (roles.HasFlag(Roles.Gateway))
        {
            app.MapPushGateway();
        }
        if (roles.HasFlag(Roles.Worker))
        {
            app.MapPushWorker();
        }

        var readyFile = args.Get("ready-file");
        app.Lifetime.ApplicationStarted.Register(() => OnStarted(app, roles, endpoints, readyFile));
        return app;
    }

    /// <summary>
    /// OpenTelemetry service.name: push-registry, push-gateway or push-worker, "push" for several roles in one process
    /// (`push start`); OTEL_SERVICE_NAME, when set, wins.
    /// </summary>
    private static string ServiceName(Roles roles)
        => Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME") is { Length: > 0 } configured ? configured
            : RoleNames(roles) is var names && names.Contains('+', StringComparison.Ordinal) ? "push" : "push-" + names;

    private static string RoleNames(Roles roles) => string.Join('+', Enum.GetValues<Roles>().Where(r => r != Roles.None && roles.HasFlag(r)).Select(r => r.ToString().ToLowerInvariant()));

    private static string Url(ListenOptions lo, bool tls)
    {
        var ep = lo.IPEndPoint!;
        var host = ep.Address.Equals(IPAddress.Any) ? "0.0.0.0" : ep.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ep.Address}]" : ep.Address.ToString();
        return $"{(tls ? "https" : "http")}://{host}:{ep.Port}";
    }

    /// <summary>Gateway:Transport (lean, the default, or kestrel), read before the host is built since it decides the listeners.</summary>
    private static WebSocketTransport WsTransport(ConfigurationManager configuration)
    {
        var value = configuration[$"{GatewayOptions.SectionName}:{nameof(GatewayOptions.Transport)}"];
        if (string.IsNullOrWhiteSpace(value))
        {
            return WebSocketTransport.Lean;
        }
        if (!Enum.TryParse<WebSocketTransport>(value.Trim(), ignoreCase: true, out var transport) || !Enum.IsDefined(transport))
        {
            throw new ArgumentException($"Gateway:Transport '{value}' is not lean or kestrel");
        }
        return transport;
    }

    public static IPEndPoint ParseEndpoint(string spec, string flag)
    {
        var s = spec.Contains("://", StringComparison.Ordinal) ? spec[(spec.IndexOf("://", StringComparison.Ordinal) + 3)..].TrimEnd('/') : spec;
        var colon = s.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(s[(colon + 1)..], out var port) || port is < 0 or > 65535)
        {
            throw new ArgumentException($"{flag} '{spec}' is not HOST:PORT (e.g. 127.0.0.1:8282, 0.0.0.0:8282, [::]:8282; port 0 picks a free port)");
        }
        var host = s[..colon].Trim('[', ']');
        if (host is "localhost")
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }
        if (host is "*" or "")
        {
            return new IPEndPoint(IPAddress.Any, port);
        }
        if (!IPAddress.TryParse(host, out var ip))
        {
            throw new ArgumentException($"{flag} '{spec}': '{host}' is not an IP address (use 0.0.0.0 to listen on every interface)");
        }
        return new IPEndPoint(ip, port);
    }

    private static void MapEnvironment(Dictionary<string, string?> o)
    {
        if (Environment.GetEnvironmentVariable("PUSH_REGISTRY") is { Length: > 0 } reg)
        {
            var i = 0;
            foreach (var r in reg.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                o[$"Cluster:Registry:{i++}"] = r;
            }
        }
        if (Environment.GetEnvironmentVariable("PUSH_SECRET") is { Length: > 0 } secret)
        {
            o["Cluster:Secret"] = secret;
        }
        if (Environment.GetEnvironmentVariable("PUSH_CONTROL_SECRET") is { Length: > 0 } controlSecret)
        {
            o["Cluster:ControlSecret"] = controlSecret;
        }
        if (Environment.GetEnvironmentVariable("PUSH_ADVERTISE") is { Length: > 0 } adv)
        {
            o["Cluster:Advertise"] = adv;
        }
        if (Environment.GetEnvironmentVariable("PUSH_DRAIN_TIMEOUT") is { Length: > 0 } drain && double.TryParse(drain, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            o["Gateway:DrainTimeout"] = TimeSpan.FromSeconds(seconds).ToString("c");
        }
    }
}

/// <summary>The Kestrel endpoints, with their bound ports once started.</summary>
internal sealed class BoundEndpoints
{
    public ListenOptions? Ws { get; set; }
    public bool WsTls { get; set; }
    public ListenOptions? Grpc { get; set; }
    public bool GrpcTls { get; set; }
    public bool GrpcMutualTls { get; set; }
    public ListenOptions? Http { get; set; }
    public ListenOptions? Api { get; set; }
    public bool ApiTls { get; set; }
}

/// <summary>The roles this process runs.</summary>
internal sealed record RoleSet(PushHost.Roles Roles);
