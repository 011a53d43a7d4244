using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Push.Cli.Hosting;

/// <summary>Console logging and `--check` of the host <see cref="PushHost.Build"/> makes.</summary>
internal static partial class PushHost
{
    /// <summary>With --log-format json every line on stdout is JSON: the start-up lines go through the logger.</summary>
    private static bool _jsonLogs;

    [LoggerMessage(3, LogLevel.Information, "{Line}", EventName = "Listening")]
    private static partial void Listening(ILogger logger, string line);

    /// <summary>A start-up line ("push: gRPC ... advertised as ..."): plain text on stdout, or a log entry with JSON logs.</summary>
    private static void Announce(ILogger logger, string line)
    {
        if (_jsonLogs)
        {
            Listening(logger, line);
        }
        else
        {
            Console.WriteLine(line);
        }
    }

    /// <summary>--log-format / PUSH_LOG_FORMAT: simple (one line of text per entry, the default) or json (one JSON object per line).</summary>
    private static void ConfigureLogging(ILoggingBuilder logging, string? format)
    {
        logging.ClearProviders();
        switch (format?.ToLowerInvariant())
        {
            case null or "" or "simple":
                logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                });
                break;
            case "json":
                _jsonLogs = true;
                logging.AddJsonConsole(o =>
                {
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                    o.UseUtcTimestamp = true;
                });
                break;
            default:
                throw new ArgumentException($"--log-format '{format}' is not simple or json");
        }
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        logging.AddFilter("Grpc", LogLevel.Warning);
        // ASP.NET Core authentication registers Data Protection, which warns at start when it cannot persist its key
        // ring (read-only root filesystem, no HOME: every container). The suite protects nothing with it (bearer
        // secrets and JWTs are checked, never issued or encrypted), so an in-memory key ring is right and the warning noise.
        logging.AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error);
        // A failed start (port in use, invalid settings) is rethrown by RunAsync and reported by Program in one line;
        // the host's own Error entry for it ("Hosting failed to start") would repeat it with a 3,000-character stack
        // trace. A faulted background service still shows: the host logs it at Critical, with its exception, as it stops.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        // Refused calls are counted (push.auth.rejected) and logged at Debug by the suite; the base handler's
        // Information line per refusal would let anyone fill the log.
        logging.AddFilter("Push.Hosting.Security.BearerSecretHandler", LogLevel.Warning);
    }

    /// <summary>
    /// `push ROLE --check`: everything start-up validates without listening — settings (types and ranges), endpoints,
    /// certificate files. Throws as a failed start would; returns what would listen.
    /// </summary>
    public static string Check(WebApplication app)
    {
        app.Services.GetService<IStartupValidator>()?.Validate();
        // Resolving Kestrel's options runs the listen configuration: endpoints parsed, certificate files loaded.
        _ = app.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value;
        var endpoints = app.Services.GetRequiredService<BoundEndpoints>();
        var parts = new List<string>();
        if (endpoints.Ws is { } ws)
        {
            parts.Add($"WebSocket {Url(ws, endpoints.WsTls).Replace("http", "ws", StringComparison.Ordinal)}");
        }
        parts.Add($"gRPC {Url(endpoints.Grpc!, endpoints.GrpcTls)}");
        if (endpoints.Http is { } http)
        {
            parts.Add($"health/metrics {Url(http, false)}");
        }
        if (endpoints.Api is { } api)
        {
            parts.Add($"HTTP/JSON API {Url(api, endpoints.ApiTls)}");
        }
        return "would listen on " + string.Join(", ", parts) + " (nothing started)";
    }
}
