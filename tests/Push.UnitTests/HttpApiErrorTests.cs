using System.Diagnostics.Metrics;
using System.Text.Json;
using Google.Api;
using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Push.Gateway.Http;
using Push.Hosting;
using Push.Hosting.Security;

namespace Push.UnitTests;

/// <summary>The HTTP/JSON API's error mapping: gRPC code to HTTP status, the JSON google.rpc.Status, and refusals.</summary>
public sealed class HttpApiErrorTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Theory]
    [InlineData(Code.Ok, 200)]
    [InlineData(Code.Cancelled, 499)]
    [InlineData(Code.Unknown, 500)]
    [InlineData(Code.InvalidArgument, 400)]
    [InlineData(Code.DeadlineExceeded, 504)]
    [InlineData(Code.NotFound, 404)]
    [InlineData(Code.AlreadyExists, 409)]
    [InlineData(Code.PermissionDenied, 403)]
    [InlineData(Code.ResourceExhausted, 429)]
    [InlineData(Code.FailedPrecondition, 400)]
    [InlineData(Code.Aborted, 409)]
    [InlineData(Code.OutOfRange, 400)]
    [InlineData(Code.Unimplemented, 501)]
    [InlineData(Code.Internal, 500)]
    [InlineData(Code.Unavailable, 503)]
    [InlineData(Code.DataLoss, 500)]
    [InlineData(Code.Unauthenticated, 401)]
    public void HttpStatus_EveryCode_MapsAsGoogleRpcCodeSays(Code code, int expected)
        => Assert.Equal(expected, JsonStatus.HttpStatus(code));

    [Fact]
    public void Format_InvalidFieldStatus_IsJsonWithReasonAndFieldViolation()
    {
        // Arrange: the status the service throws for a bad field.
        var status = Errors.InvalidField("groups[0]", "must not be empty").GetRpcStatus()!;

        // Act
        using var json = JsonDocument.Parse(JsonStatus.Format(status));

        // Assert
        var root = json.RootElement;
        Assert.Equal(3, root.GetProperty("code").GetInt32());
        Assert.Equal("groups[0]: must not be empty", root.GetProperty("message").GetString());
        var details = root.GetProperty("details").EnumerateArray().ToDictionary(d => d.GetProperty("@type").GetString()!);
        Assert.Equal("ERROR_REASON_INVALID_FIELD", details["type.googleapis.com/google.rpc.ErrorInfo"].GetProperty("reason").GetString());
        Assert.Equal("push.v1", details["type.googleapis.com/google.rpc.ErrorInfo"].GetProperty("domain").GetString());
        Assert.Equal("groups[0]", details["type.googleapis.com/google.rpc.BadRequest"].GetProperty("fieldViolations")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task AuthResult_TranscodedEndpointWithoutCredentials_Is401JsonWithReason()
    {
        // Arrange
        var context = TranscodedRequest();

        // Act
        await Handler().HandleAsync(_ => throw new InvalidOperationException("must not run"), context, Policy(), PolicyAuthorizationResult.Challenge());

        // Assert
        var root = await Body(context);
        Assert.Equal(401, context.Response.StatusCode);
        Assert.Equal("Bearer", context.Response.Headers.WWWAuthenticate.ToString());
        Assert.StartsWith("application/json", context.Response.ContentType, StringComparison.Ordinal);
        Assert.Equal(16, root.GetProperty("code").GetInt32());
        Assert.StartsWith("missing credentials", root.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("ERROR_REASON_UNAUTHENTICATED", root.GetProperty("details")[0].GetProperty("reason").GetString());
        Assert.False(context.Response.Headers.ContainsKey("grpc-status"));
    }

    [Fact]
    public async Task AuthResult_TranscodedEndpointWrongSecret_Is401WithTheHandlersMessage()
    {
        var context = TranscodedRequest();
        context.Items[BearerSecretHandler.FailureItem] = "invalid credentials: the bearer token matches no member secret";

        await Handler().HandleAsync(_ => Task.CompletedTask, context, Policy(), PolicyAuthorizationResult.Challenge());

        var root = await Body(context);
        Assert.Equal(401, context.Response.StatusCode);
        Assert.Equal("invalid credentials: the bearer token matches no member secret", root.GetProperty("message").GetString());
    }

    [Fact]
    public async Task AuthResult_TranscodedEndpointMemberScope_Is403JsonWithReasonAndWhy()
    {
        // Arrange: a control credential on Drain.
        var context = TranscodedRequest();
        var failure = AuthorizationFailure.Failed([new AuthorizationFailureReason(new AccessHandler(), "permission denied: Drain takes a gateway out of service (member scope)")]);

        // Act
        await Handler().HandleAsync(_ => Task.CompletedTask, context, Policy(), PolicyAuthorizationResult.Forbid(failure));

        // Assert
        var root = await Body(context);
        Assert.Equal(403, context.Response.StatusCode);
        Assert.Equal(7, root.GetProperty("code").GetInt32());
        Assert.Contains("Drain", root.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("ERROR_REASON_PERMISSION_DENIED", root.GetProperty("details")[0].GetProperty("reason").GetString());
    }

    [Fact]
    public async Task AuthResult_GrpcRequest_StaysTrailersOnlyGrpcStatus()
    {
        var context = new DefaultHttpContext { Request = { ContentType = "application/grpc" } };

        await Handler().HandleAsync(_ => Task.CompletedTask, context, Policy(), PolicyAuthorizationResult.Challenge());

        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal("16", context.Response.Headers["grpc-status"].ToString());
    }

    [Fact]
    public void Limits_DefaultOptions_MatchTheGrpcBoundAndAllowABase64Payload()
    {
        var options = new Push.Gateway.GatewayOptions();

        Assert.Equal(options.MaxPushSize + GrpcLimits.ControlEnvelopeBytes, HttpApi.MaxMessageBytes(options));
        Assert.True(HttpApi.MaxBodyBytes(options) >= (options.MaxPushSize + 2) / 3 * 4 + GrpcLimits.ControlEnvelopeBytes);
    }

    private GrpcAuthResultHandler Handler() => new(_services.GetRequiredService<IMeterFactory>(), NullLogger<GrpcAuthResultHandler>.Instance);

    private static AuthorizationPolicy Policy() => new AuthorizationPolicyBuilder().AddRequirements(new AccessRequirement()).Build();

    private static DefaultHttpContext TranscodedRequest()
    {
        var method = Push.V1.GatewayService.Descriptor.FindMethodByName("SendToGroup");
        var rule = method.GetOptions().GetExtension(AnnotationsExtensions.Http);
        var context = new DefaultHttpContext { Request = { Method = "POST", Path = rule.Post, ContentType = "application/json" } };
        context.Response.Body = new MemoryStream();
        context.SetEndpoint(new Microsoft.AspNetCore.Http.Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(new GrpcJsonTranscodingMetadata(method, rule), JsonApiEndpoint.Instance), "transcoded"));
        return context;
    }

    private static async Task<JsonElement> Body(DefaultHttpContext context)
    {
        context.Response.Body.Position = 0;
        using var doc = await JsonDocument.ParseAsync(context.Response.Body);
        return doc.RootElement.Clone();
    }
}
