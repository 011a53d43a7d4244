using System.Text.Json;
using Google.Api;
using Push.Gateway.Http;

namespace Push.UnitTests;

/// <summary>The OpenAPI description built from the GatewayService descriptor and its google.api.http routes.</summary>
public sealed class OpenApiDocumentTests
{
    private static readonly JsonElement Doc = JsonDocument.Parse(OpenApiDocument.Build(Push.V1.GatewayService.Descriptor)).RootElement;

    [Fact]
    public void Build_EveryMethod_HasAnnotatedPostRouteInTheDocument()
    {
        foreach (var method in Push.V1.GatewayService.Descriptor.Methods)
        {
            var rule = method.GetOptions()?.GetExtension(AnnotationsExtensions.Http);
            Assert.True(rule is not null, $"{method.Name} has no google.api.http route");
            Assert.Equal("*", rule.Body);
            var op = Doc.GetProperty("paths").GetProperty(rule.Post).GetProperty("post");
            Assert.Equal(method.Name, op.GetProperty("operationId").GetString());
            Assert.Equal($"/push.v1.GatewayService/{method.Name}", op.GetProperty("x-grpc-method").GetString());
        }
    }

    [Fact]
    public void Build_Routes_AreTheKebabCaseMethodNames()
    {
        foreach (var method in Push.V1.GatewayService.Descriptor.Methods)
        {
            var kebab = string.Concat(method.Name.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
            Assert.Equal("/v1/" + kebab, method.GetOptions().GetExtension(AnnotationsExtensions.Http).Post);
        }
    }

    [Fact]
    public void Build_Schemas_FollowTheProto3JsonMapping()
    {
        var schemas = Doc.GetProperty("components").GetProperty("schemas");
        var send = schemas.GetProperty("push.v1.SendToGroupRequest").GetProperty("properties");
        Assert.Equal("array", send.GetProperty("groups").GetProperty("type").GetString());
        Assert.Equal("array", send.GetProperty("excludeClientIds").GetProperty("type").GetString());
        Assert.Equal("byte", send.GetProperty("binary").GetProperty("format").GetString());
        var counts = schemas.GetProperty("push.v1.BatchGetClientCountByGroupResponse").GetProperty("properties").GetProperty("counts");
        Assert.Equal("int64", counts.GetProperty("additionalProperties").GetProperty("format").GetString());
        Assert.Equal("string", schemas.GetProperty("push.v1.GatewayStatus").GetProperty("properties").GetProperty("uptime").GetProperty("type").GetString());
        Assert.True(schemas.TryGetProperty("google.rpc.Status", out _));
    }
}
