using System.Text.Json;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>Server reflection: a client with no proto files (buf curl, grpcurl) lists and calls the control API.</summary>
[Collection(PushStartCollection.Name)]
[Trait("Category", "Integration")]
public sealed class BufCurlReflectionTests(PushStartFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task BufCurl_ListServices_ShowsEveryService()
    {
        // Act
        var r = await BufCurl.ListServicesAsync(fixture.Suite.GrpcAddress);
        var methods = await BufCurl.ListMethodsAsync(fixture.Suite.GrpcAddress);

        // Assert
        Assert.True(r.ExitCode == 0, r.Describe("buf curl --list-services") + "\n" + fixture.Suite.Output);
        var services = r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        output.WriteLine(string.Join(", ", services));
        Assert.Contains("push.v1.GatewayService", services);
        Assert.Contains("push.v1.RegistryService", services);
        Assert.Contains("push.v1.BusinessService", services);
        Assert.Contains("grpc.health.v1.Health", services);
        Assert.True(methods.ExitCode == 0, methods.Describe("buf curl --list-methods"));
        Assert.Contains("push.v1.GatewayService/SendToGroup", methods.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("push.v1.GatewayService/GetClientCountByGroup", methods.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BufCurl_JoinGroupSendToGroupAndCount_ClientReceivesPush()
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var group = "curl-" + Guid.NewGuid().ToString("N")[..8];
        var text = "pushed by buf curl " + Guid.NewGuid().ToString("N");
        var grpc = fixture.Suite.GrpcAddress;

        // Act
        var join = await BufCurl.CallAsync(grpc, "push.v1.GatewayService/JoinGroup", $$"""{"client_id":"{{ws.ClientId}}","group":"{{group}}"}""");
        var send = await BufCurl.CallAsync(grpc, "push.v1.GatewayService/SendToGroup", $$"""{"groups":["{{group}}"],"text":"{{text}}"}""");
        var received = await ws.ReceiveTextAsync(ct);
        var count = await BufCurl.CallAsync(grpc, "push.v1.GatewayService/GetClientCountByGroup", $$"""{"group":"{{group}}"}""");

        // Assert
        Assert.True(join.ExitCode == 0, join.Describe("JoinGroup"));
        Assert.True(send.ExitCode == 0, send.Describe("SendToGroup"));
        Assert.True(count.ExitCode == 0, count.Describe("GetClientCountByGroup"));
        output.WriteLine($"SendToGroup -> {send.StandardOutput.Trim()}");
        output.WriteLine($"GetClientCountByGroup -> {count.StandardOutput.Trim()}");
        Assert.Equal(text, received);
        // protobuf JSON renders int64 as a string
        Assert.Equal("1", JsonDocument.Parse(send.StandardOutput).RootElement.GetProperty("delivered").GetString());
        Assert.Equal("1", JsonDocument.Parse(count.StandardOutput).RootElement.GetProperty("count").GetString());
    }

    [Fact]
    public async Task BufCurl_InvalidClientId_ReturnsInvalidArgumentWithReason()
    {
        // Act
        var r = await BufCurl.CallAsync(fixture.Suite.GrpcAddress, "push.v1.GatewayService/JoinGroup", """{"client_id":"not-a-client","group":"g"}""");

        // Assert
        output.WriteLine(r.StandardError);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("invalid_argument", r.StandardError, StringComparison.Ordinal);
        Assert.Contains("google.rpc.ErrorInfo", r.StandardError, StringComparison.Ordinal);
    }
}
