using System.Text.Json;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests.Packages;

/// <summary>The `push` host as a .NET tool: installed from the feed with dotnet tool install --tool-path, then run.</summary>
[Collection(PackageFeedCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ToolPackageTests(PackageFeed feed, ITestOutputHelper output)
{
    [Fact]
    public async Task ToolPackage_InstalledWithToolPath_RunsHelpStartAndStatus()
    {
        // Arrange: install into a folder of its own, from the feed only.
        var ct = TestTimeouts.Token(TimeSpan.FromMinutes(4));
        var toolPath = Path.Combine(feed.Directory, "tools");
        var install = await DotnetCli.RunCheckedAsync(
            ["tool", "install", "Push.Grpc.Cli", "--version", feed.Version, "--tool-path", toolPath, "--add-source", feed.Feed, "--configfile", feed.NuGetConfig],
            feed.Directory, TestTimeouts.Long);
        output.WriteLine($"dotnet tool install: {install.Elapsed.TotalSeconds:F1} s");
        var push = Path.Combine(toolPath, "push");

        // Act: --help, then push start on OS-chosen loopback ports with secrets (PushProcess: ready file, then
        // /healthz/ready Healthy, i.e. the gateway's stream to the demo worker is open), a WebSocket client, push status.
        var help = await ExternalProcess.RunAsync(push, ["--help"], TestTimeouts.Default);
        await using var suite = await PushProcess.StartAsync("start", cancellationToken: ct, executable: push);
        await using var client = await TestWebSocket.ConnectAsync(suite.Ws, cancellationToken: ct);
        var secrets = new Dictionary<string, string> { ["PUSH_CONTROL_SECRET"] = TestSecrets.Control };
        var status = await ExternalProcess.RunAsync(push, ["status", "--grpc", suite.GrpcAddress, "--json"], TestTimeouts.Default, environment: secrets);

        // Assert
        Assert.True(help.ExitCode == 0, help.Describe("push --help"));
        foreach (var command in new[] { "start", "registry", "gateway", "worker", "status", "send" })
        {
            Assert.Contains(command, help.StandardOutput, StringComparison.Ordinal); // every command is listed
        }
        Assert.Matches("^[0-9a-f]{40}$", client.ClientId); // the demo worker's greeting
        Assert.True(status.ExitCode == 0, status.Describe("push status"));
        using var doc = JsonDocument.Parse(status.StandardOutput);
        var gatewayStatus = Assert.Single(doc.RootElement.GetProperty("gateways").EnumerateArray());
        Assert.Equal("1", gatewayStatus.GetProperty("connections").ToString());
        suite.Terminate();
        Assert.Equal(0, await suite.WaitForExitAsync(TestTimeouts.Default));
    }
}
