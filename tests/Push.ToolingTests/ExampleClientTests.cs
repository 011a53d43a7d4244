using System.Text.Json;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The Node and Python examples (examples/node, examples/python) against a running suite with a real WebSocket
/// client: they bind it to a uid, add it to a group, push to both and to its client id, and count the group; the client gets
/// the three pushes.
/// </summary>
[Collection(PushStartCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ExampleClientTests(PushStartFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task NodeExample_AgainstRunningSuite_ClientReceivesGroupAndUidPushes()
    {
        var dir = ExternalTools.NodeExampleDir;
        await RunExampleAsync("node", (ws, uid, group, text) => ExternalProcess.RunAsync(
            ExternalTools.Node,
            ["push-example.js", fixture.Suite.GrpcAddress, ws.ClientId, "--uid", uid, "--group", group, "--text", text],
            RunTimeout,
            workingDirectory: dir,
            environment: new Dictionary<string, string> { ["PUSH_CONTROL_SECRET"] = TestSecrets.Control }));
    }

    [Fact]
    public async Task PythonExample_AgainstRunningSuite_ClientReceivesGroupAndUidPushes()
    {
        var stubs = await PythonStubs.DirectoryAsync();
        await RunExampleAsync("python", (ws, uid, group, text) => ExternalProcess.RunAsync(
            ExternalTools.RequirePython(),
            ["push_example.py", fixture.Suite.GrpcAddress, ws.ClientId, "--uid", uid, "--group", group, "--text", text],
            RunTimeout,
            workingDirectory: ExternalTools.PythonExampleDir,
            environment: new Dictionary<string, string> { ["PUSH_PY_GEN"] = stubs, ["PYTHONDONTWRITEBYTECODE"] = "1", ["PUSH_CONTROL_SECRET"] = TestSecrets.Control }));
    }

    private async Task RunExampleAsync(string lang, Func<TestWebSocket, string, string, string, Task<CommandResult>> run)
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var (uid, group, text) = ($"{lang}-user-{suffix}", $"{lang}-room-{suffix}", $"hello from {lang} {suffix}");

        // Act
        var r = await run(ws, uid, group, text);
        var first = await ws.ReceiveTextAsync(ct);
        var second = await ws.ReceiveTextAsync(ct);
        var third = await ws.ReceiveTextAsync(ct);

        // Assert
        output.WriteLine($"{lang} example: exit {r.ExitCode} in {r.Elapsed.TotalMilliseconds:F0} ms\n{r.StandardOutput}");
        Assert.True(r.ExitCode == 0, r.Describe($"{lang} example") + "\n" + fixture.Suite.Output);
        var steps = r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(e => e.GetProperty("step").GetString()!, e => e);
        Assert.Equal(["BindUid", "JoinGroup", "SendToGroup", "SendToUid", "SendToClients", "GetClientCountByGroup"], steps.Keys);
        Assert.Equal(1, steps["SendToGroup"].GetProperty("delivered").GetInt64());
        Assert.Equal(1, steps["SendToUid"].GetProperty("delivered").GetInt64());
        Assert.Equal(1, steps["SendToClients"].GetProperty("delivered").GetInt64());
        Assert.Equal(1, steps["GetClientCountByGroup"].GetProperty("count").GetInt64());
        Assert.Equal($"{text} (group {group})", first);
        Assert.Equal($"{text} (uid {uid})", second);
        Assert.Equal($"{text} (clients)", third);
        var bound = await fixture.Control.Raw.GetClientIdByUidAsync(new Push.V1.GetClientIdByUidRequest { Uid = uid }, cancellationToken: ct);
        Assert.Equal([ws.ClientId], bound.ClientIds);
    }
}
