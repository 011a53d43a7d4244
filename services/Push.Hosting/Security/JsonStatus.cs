using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Rpc;
using Microsoft.AspNetCore.Http;

namespace Push.Hosting.Security;

/// <summary>Endpoint metadata of a JSON-transcoded gRPC method: its refusals are answered as <see cref="JsonStatus"/>.</summary>
internal sealed class JsonApiEndpoint
{
    public static readonly JsonApiEndpoint Instance = new();
}

/// <summary>
/// The HTTP/JSON form of a gRPC status, as the HTTP API answers errors: a google.rpc.Status body
/// (<c>{"code":16,"message":"...","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":...}]}</c>)
/// and the HTTP status that google.rpc.Code maps to (the table of google/rpc/code.proto, which JSON transcoding uses too).
/// </summary>
internal static class JsonStatus
{
    /// <summary>The detail types the suite sends, so that their JSON form is written instead of base64 bytes.</summary>
    public static readonly TypeRegistry Details = TypeRegistry.FromMessages(ErrorInfo.Descriptor, BadRequest.Descriptor);

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(Details));

    /// <summary>The HTTP status of a gRPC status code.</summary>
    public static int HttpStatus(Code code) => code switch
    {
        Code.Ok => StatusCodes.Status200OK,
        Code.Cancelled => 499, // client closed request
        Code.InvalidArgument or Code.FailedPrecondition or Code.OutOfRange => StatusCodes.Status400BadRequest,
        Code.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        Code.NotFound => StatusCodes.Status404NotFound,
        Code.AlreadyExists or Code.Aborted => StatusCodes.Status409Conflict,
        Code.PermissionDenied => StatusCodes.Status403Forbidden,
        Code.Unauthenticated => StatusCodes.Status401Unauthorized,
        Code.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        Code.Unimplemented => StatusCodes.Status501NotImplemented,
        Code.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError, // Unknown, Internal, DataLoss
    };

    /// <summary>A status with one ErrorInfo detail (domain push.v1) when <paramref name="reason"/> is set.</summary>
    public static Google.Rpc.Status Create(Code code, string? reason, string message)
    {
        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        if (reason is null)
        {
            return status;
        }
        status.Details.Add(Google.Protobuf.WellKnownTypes.Any.Pack(new ErrorInfo { Reason = reason, Domain = "push.v1" }));
        return status;
    }

    /// <summary>Compact JSON, like the transcoder's own error bodies (and '&lt;' left as it is).</summary>
    public static string Format(Google.Rpc.Status status)
        => System.Text.Json.Nodes.JsonNode.Parse(Formatter.Format(status))!.ToJsonString(Compact);

    private static readonly System.Text.Json.JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Answers the request with <paramref name="status"/> as JSON (no request body is read).</summary>
    public static Task WriteAsync(Microsoft.AspNetCore.Http.HttpResponse response, Google.Rpc.Status status)
    {
        response.StatusCode = HttpStatus((Code)status.Code);
        response.ContentType = "application/json; charset=utf-8";
        if (status.Code == (int)Code.Unauthenticated)
        {
            response.Headers.WWWAuthenticate = "Bearer";
        }
        return response.WriteAsync(Format(status));
    }
}
