using System.Text.Json;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The Node, Python, Go, Java and Ruby examples (examples/*) against a running, secured suite with a real WebSocket
/// client: they bind it to a uid, add it to a group, push to both and to its client id, and count the group; the client gets
/// the three pushes. Go, Java and Ruby use code generated from protos/ at test time with Debian's gRPC packages.
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

    [Fact]
    public async Task GoExample_GeneratedFromProtos_ClientReceivesGroupAndUidPushes()
    {
        var built = await GeneratedClients.GoAsync();
        output.WriteLine($"go: examples/go/build.sh took {built.BuildTime.TotalSeconds:F1} s");
        await RunExampleAsync("go", (ws, uid, group, text) => ExternalProcess.RunAsync(
            built.Program,
            [fixture.Suite.GrpcAddress, ws.ClientId, "--uid", uid, "--group", group, "--text", text, "--secret", TestSecrets.Control],
            RunTimeout));
        await AssertRefusedWithoutSecretAsync("go", id => ExternalProcess.RunAsync(built.Program, [fixture.Suite.GrpcAddress, id], RunTimeout, environment: NoSecret()));
    }

    [Fact]
    public async Task JavaExample_GeneratedFromProtos_ClientReceivesGroupAndUidPushes()
    {
        var built = await GeneratedClients.JavaAsync();
        output.WriteLine($"java: examples/java/build.sh took {built.BuildTime.TotalSeconds:F1} s");
        await RunExampleAsync("java", (ws, uid, group, text) => ExternalProcess.RunAsync(
            built.Program,
            [fixture.Suite.GrpcAddress, ws.ClientId, "--uid", uid, "--group", group, "--text", text],
            RunTimeout,
            environment: new Dictionary<string, string> { ["PUSH_CONTROL_SECRET"] = TestSecrets.Control }));
        await AssertRefusedWithoutSecretAsync("java", id => ExternalProcess.RunAsync(built.Program, [fixture.Suite.GrpcAddress, id], RunTimeout, environment: NoSecret()));
    }

    [Fact]
    public async Task RubyExample_GeneratedFromProtos_ClientReceivesGroupAndUidPushes()
    {
        var ruby = ExternalTools.RequireRuby();
        var gen = GeneratedClients.RubyGenDirectory();
        await RunExampleAsync("ruby", (ws, uid, group, text) => ExternalProcess.RunAsync(
            ruby,
            ["push_example.rb", fixture.Suite.GrpcAddress, ws.ClientId, "--uid", uid, "--group", group, "--text", text],
            RunTimeout,
            workingDirectory: ExternalTools.RubyExampleDir,
            environment: new Dictionary<string, string> { ["PUSH_RB_GEN"] = gen, ["PUSH_CONTROL_SECRET"] = TestSecrets.Control }));
        Assert.True(File.Exists(Path.Combine(gen, "push", "v1", "gateway_service_services_pb.rb")), "the Ruby example generated no code into PUSH_RB_GEN");
        await AssertRefusedWithoutSecretAsync("ruby", id => ExternalProcess.RunAsync(
            ruby, ["push_example.rb", fixture.Suite.GrpcAddress, id], RunTimeout, workingDirectory: ExternalTools.RubyExampleDir,
            environment: new Dictionary<string, string>(NoSecret()) { ["PUSH_RB_GEN"] = gen }));
    }

    private static Dictionary<string, string> NoSecret() => new() { ["PUSH_CONTROL_SECRET"] = string.Empty, ["PUSH_SECRET"] = string.Empty };

    /// <summary>The same program with no secret: the first call (BindUid) is refused, it prints the status and exits with 1.</summary>
    private async Task AssertRefusedWithoutSecretAsync(string lang, Func<string, Task<CommandResult>> run)
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var r = await run(ws.ClientId);
        Assert.True(r.ExitCode == 1, r.Describe($"{lang} example without a secret"));
        Assert.Contains("(UNAUTHENTICATED)", r.StandardError, StringComparison.Ordinal);
        Assert.Equal(string.Empty, r.StandardOutput);
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
