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
        var readyFile = Path.Combine(feed.Directory, "push-tool-ready.json");
        var secrets = new Dictionary<string, string> { ["PUSH_SECRET"] = TestSecrets.Member, ["PUSH_CONTROL_SECRET"] = TestSecrets.Control };

        // Act: --help, then push start on OS-chosen loopback ports with secrets, a WebSocket client, push status.
        var help = await ExternalProcess.RunAsync(push, ["--help"], TestTimeouts.Default);
        await using var suite = ExternalProcess.Start(push,
            ["start", "--ws", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--ready-file", readyFile],
            workingDirectory: feed.Directory, environment: secrets);
        var ready = await WaitReadyAsync(readyFile, suite, ct);
        await using var client = await TestWebSocket.ConnectAsync(new Uri(ready.Ws.Replace("http", "ws", StringComparison.Ordinal)), cancellationToken: ct);
        var status = await ExternalProcess.RunAsync(push, ["status", "--grpc", ready.Grpc, "--json"], TestTimeouts.Default, environment: secrets);

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
        Assert.Equal(0, await suite.WaitForExitAsync(ct));
    }

    private sealed record Ready(string Ws, string Grpc, string Http);

    /// <summary>The tool writes the ready file once it listens; waits for it (failing with the output if the process ends).</summary>
    private static async Task<Ready> WaitReadyAsync(string readyFile, ExternalProcess suite, CancellationToken ct)
    {
        while (!File.Exists(readyFile))
        {
            if (suite.HasExited)
            {
                throw new InvalidOperationException($"the installed push start exited:\n{suite.Output}");
            }
            try
            {
                await Task.Delay(25, ct);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the installed push start did not listen in time:\n{suite.Output}");
            }
        }
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(readyFile, ct));
        var ready = new Ready(doc.RootElement.GetProperty("ws").GetString()!, doc.RootElement.GetProperty("grpc").GetString()!, doc.RootElement.GetProperty("http").GetString()!);
        // Ready (Healthy) once the gateway's stream to the demo worker is open: a client is then greeted.
        using var http = new HttpClient();
        while (true)
        {
            try
            {
                using var r = await http.GetAsync(new Uri(new Uri(ready.Http), "/healthz/ready"), ct);
                if (r.IsSuccessStatusCode && (await r.Content.ReadAsStringAsync(ct)).Contains("Healthy", StringComparison.Ordinal))
                {
                    return ready;
                }
            }
            catch (HttpRequestException) when (!suite.HasExited)
            {
            }
            try
            {
                await Task.Delay(50, ct);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the installed push start did not become ready in time:\n{suite.Output}");
            }
        }
    }
}
