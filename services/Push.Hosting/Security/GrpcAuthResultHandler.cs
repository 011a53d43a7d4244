using System.Diagnostics.Metrics;
using System.Text;
using Google.Protobuf;
using Google.Rpc;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Push.Hosting.Security;

/// <summary>
/// Answers a refused gRPC call the way a gRPC server would (HTTP 200, trailers-only, grpc-status 16 UNAUTHENTICATED or
/// 7 PERMISSION_DENIED, a readable grpc-message and google.rpc.ErrorInfo) instead of ASP.NET Core's bare 401/403,
/// which clients only show as "Bad gRPC response"; on the HTTP/JSON API the same status as a JSON body with HTTP 401 or
/// 403 (<see cref="JsonStatus"/>). The request body is never read. Every refusal is counted.
/// </summary>
internal sealed partial class GrpcAuthResultHandler(IMeterFactory meters, ILogger<GrpcAuthResultHandler> logger) : IAuthorizationMiddlewareResultHandler
{
    private const string MissingCredentials =
        "missing credentials: send the header 'authorization: Bearer <secret>' (backends: Cluster:ControlSecret / PUSH_CONTROL_SECRET; cluster members: Cluster:Secret / PUSH_SECRET)";

    private readonly AuthorizationMiddlewareResultHandler _default = new();
    private readonly Counter<long> _rejected = meters.Create("Push.Security").CreateCounter<long>(
        "push.auth.rejected", "{call}", "gRPC calls refused before their body was read, by reason (missing, invalid, forbidden).");

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            return next(context);
        }
        // The HTTP/JSON form of the control API (JSON transcoding) gets the same status as JSON, with its HTTP status.
        var json = context.GetEndpoint()?.Metadata.GetMetadata<JsonApiEndpoint>() is not null;
        if (!json && context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true)
        {
            return _default.HandleAsync(next, context, policy, authorizeResult);
        }
        int code;
        string reason;
        string message;
        if (authorizeResult.Forbidden)
        {
            code = (int)Code.PermissionDenied;
            reason = "forbidden";
            message = authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault()?.Message ?? "permission denied";
        }
        else
        {
            code = (int)Code.Unauthenticated;
            var failure = context.Items.TryGetValue(BearerSecretHandler.FailureItem, out var f) ? f as string : null;
            reason = failure is null ? "missing" : "invalid";
            message = failure ?? MissingCredentials;
        }
        _rejected.Add(1, new KeyValuePair<string, object?>("push.reason", reason));
        Log.Refused(logger, context.Request.Path.Value ?? string.Empty, context.Connection.RemoteIpAddress?.ToString() ?? "?", message);
        var status = JsonStatus.Create((Code)code, code == (int)Code.Unauthenticated ? "ERROR_REASON_UNAUTHENTICATED" : "ERROR_REASON_PERMISSION_DENIED", message);
        if (json)
        {
            return JsonStatus.WriteAsync(context.Response, status);
        }
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(message);
        response.Headers["grpc-status-details-bin"] = Convert.ToBase64String(status.ToByteArray()).TrimEnd('=');
        return Task.CompletedTask;
    }

    // grpc-message is percent-encoded: bytes outside printable ASCII, and '%' itself (gRPC over HTTP/2 spec).
    private static string PercentEncode(string message)
    {
        var sb = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return sb.ToString();
    }

    private static partial class Log
    {
        [LoggerMessage(1201, LogLevel.Debug, "Refused gRPC call {Path} from {Remote} before reading its body: {Reason}", EventName = "CallRefused")]
        public static partial void Refused(ILogger logger, string path, string remote, string reason);
    }
}
