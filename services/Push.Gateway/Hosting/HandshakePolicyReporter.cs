using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Push.Gateway.Hosting;

/// <summary>
/// Says at start how WebSocket handshakes are checked, and warns loudly about the combination that lets other web
/// sites act as a visitor: cookies forwarded to workers (Gateway:ForwardCookies) while any Origin is accepted
/// (Gateway:AllowedOrigins empty), i.e. cross-site WebSocket hijacking for cookie-authenticated applications.
/// </summary>
internal sealed partial class HandshakePolicyReporter(IOptions<GatewayOptions> options, ILogger<HandshakePolicyReporter> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (o.ForwardCookies && o.AllowedOrigins.Count == 0)
        {
            CookiesWithAnyOrigin(logger);
        }
        Policy(logger, o.AllowedOrigins.Count == 0 ? "any" : string.Join(' ', o.AllowedOrigins), o.ForwardCookies ? "forwarded" : "not forwarded",
            o.Token.Enabled ? "required" : "off", o.WorkerAuthorization ? "on" : "off");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(3501, LogLevel.Warning, "SECURITY: Gateway:ForwardCookies is on and Gateway:AllowedOrigins is empty: any web site a visitor opens can connect here with the visitor's cookies, and the worker sees them as the visitor's (cross-site WebSocket hijacking). Set Gateway:AllowedOrigins:0=https://your.app, or turn Gateway:ForwardCookies off.", EventName = "CookiesWithAnyOrigin")]
    private static partial void CookiesWithAnyOrigin(ILogger logger);

    [LoggerMessage(3502, LogLevel.Information, "WebSocket handshakes: origins {Origins}, cookies to workers {Cookies}, token {Token}, worker authorization {WorkerAuthorization}.", EventName = "HandshakePolicy")]
    private static partial void Policy(ILogger logger, string origins, string cookies, string token, string workerAuthorization);
}
