using System.Text.Json;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>A Node backend (@grpc/grpc-js loading protos/) drives every control API operation against a real client.</summary>
[Collection(PushStartCollection.Name)]
[Trait("Category", "Integration")]
public sealed class NodeAllOperationsTests(PushStartFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task NodeClient_CallsEveryGatewayServiceMethod_AllAnswerOk()
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);

        // Act
        var r = await ExternalProcess.RunAsync(ExternalTools.Node, ["all-operations.js", fixture.Suite.GrpcAddress, ws.ClientId], TimeSpan.FromSeconds(90), workingDirectory: ExternalTools.NodeExampleDir, environment: new Dictionary<string, string> { ["PUSH_CONTROL_SECRET"] = TestSecrets.Control });

        // Assert
        output.WriteLine(r.StandardOutput);
        Assert.True(r.ExitCode == 0, r.Describe("all-operations.js") + "\n" + fixture.Suite.Output);
        var lines = r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var summary = lines[^1];
        var called = lines.Take(lines.Count - 1).Where(l => l.GetProperty("code").GetString() != "SKIPPED").Select(l => l.GetProperty("method").GetString()).ToHashSet();
        Assert.True(summary.GetProperty("methods").GetInt32() >= 38, "the service should expose the whole GatewayClient surface");
        Assert.Equal(summary.GetProperty("total").GetInt32(), summary.GetProperty("ok").GetInt32());
        Assert.Contains("SendToGroup", called);
        Assert.Contains("SendToClients", called);
        Assert.Contains("GetAllGroupClientIdCount", called);
        Assert.Contains("CloseClient", called);
        // The client saw the pushes that reached it and was closed last.
        var received = new List<string>();
        while (true)
        {
            try
            {
                received.Add(await ws.ReceiveTextAsync(ct));
            }
            catch (InvalidOperationException)
            {
                break; // closed by CloseClient
            }
        }
        Assert.Contains("hello from node", received);
        Assert.Contains("batch from node", received);
    }
}
