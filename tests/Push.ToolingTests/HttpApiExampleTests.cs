using System.Text.Json;
using System.Text.RegularExpressions;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The HTTP/JSON API as users meet it, against a real secured `push start` with a real WebSocket client: the PHP example
/// (examples/php/push.php under Debian's php-cli + php-curl) and the README's curl walk-through, extracted from README.md
/// at test time so that it cannot drift. Both show a refused call without credentials (401 + reason) and an
/// INVALID_ARGUMENT with its reason.
/// </summary>
[Collection(PushStartCollection.Name)]
[Trait("Category", "Integration")]
public sealed partial class HttpApiExampleTests(PushStartFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task PhpExample_AgainstRunningSuite_PushesAndShowsBothErrorsWithReasons()
    {
        // Arrange
        var php = ExternalTools.RequirePhp();
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var (uid, group, text) = ($"php-user-{suffix}", $"php-room-{suffix}", $"hello from php {suffix}");

        // Act
        var r = await ExternalProcess.RunAsync(php,
            [Path.Combine(RepoPaths.Root, "examples", "php", "push.php"), Api, ws.ClientId, "--uid", uid, "--group", group, "--text", text],
            RunTimeout,
            environment: new Dictionary<string, string> { ["PUSH_CONTROL_SECRET"] = TestSecrets.Control });
        var first = await ws.ReceiveTextAsync(ct);
        var second = await ws.ReceiveTextAsync(ct);

        // Assert
        output.WriteLine($"php example: exit {r.ExitCode} in {r.Elapsed.TotalMilliseconds:F0} ms\n{r.StandardOutput}");
        Assert.True(r.ExitCode == 0, r.Describe("php example") + "\n" + fixture.Suite.Output);
        var steps = r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(e => e.GetProperty("step").GetString()!, e => e);
        Assert.Equal(["BindUid", "JoinGroup", "SendToGroup", "SendToUid", "GetClientCountByGroup", "Unauthenticated", "InvalidArgument"], steps.Keys);
        Assert.Equal(1, steps["SendToGroup"].GetProperty("delivered").GetInt64());
        Assert.Equal(1, steps["SendToUid"].GetProperty("delivered").GetInt64());
        Assert.Equal(1, steps["GetClientCountByGroup"].GetProperty("count").GetInt64());
        Assert.Equal($"{text} (group {group})", first);
        Assert.Equal($"{text} (uid {uid})", second);
        var refused = steps["Unauthenticated"];
        Assert.Equal(401, refused.GetProperty("status").GetInt32());
        Assert.Equal(16, refused.GetProperty("code").GetInt32());
        Assert.Equal("ERROR_REASON_UNAUTHENTICATED", refused.GetProperty("reason").GetString());
        var invalid = steps["InvalidArgument"];
        Assert.Equal(400, invalid.GetProperty("status").GetInt32());
        Assert.Equal(3, invalid.GetProperty("code").GetInt32());
        Assert.Equal("ERROR_REASON_INVALID_FIELD", invalid.GetProperty("reason").GetString());
        Assert.StartsWith("groups[0]:", invalid.GetProperty("message").GetString(), StringComparison.Ordinal);
        var bound = await fixture.Control.Raw.GetClientIdByUidAsync(new Push.V1.GetClientIdByUidRequest { Uid = uid }, cancellationToken: ct);
        Assert.Equal([ws.ClientId], bound.ClientIds);
    }

    [Fact]
    public async Task ReadmeCurlWalkthrough_AsPasted_JoinsPushesCountsAndShowsBothErrors()
    {
        // Arrange: the README block, with this suite's address and a connected client's id put in.
        var bash = ExternalTools.RequireCurl();
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var script = ReadmeBlock();
        Assert.Matches(ApiLine(), script);
        Assert.Matches(ClientIdLine(), script);
        script = ClientIdLine().Replace(ApiLine().Replace(script, $"API={Api}"), $"CLIENT_ID={ws.ClientId}");
        var file = Path.Combine(Path.GetTempPath(), $"push-readme-curl-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(file, script, ct);
        CommandResult r;
        try
        {
            // Act
            r = await ExternalProcess.RunAsync(bash, ["-eu", file], RunTimeout,
                environment: new Dictionary<string, string> { ["PUSH_CONTROL_SECRET"] = TestSecrets.Control });
        }
        finally
        {
            File.Delete(file);
        }
        // The group is "room1" in the README; this suite's other tests use their own groups.
        var pushed = await ws.ReceiveTextAsync(ct);

        // Assert: one "JSON STATUS" line per curl command.
        output.WriteLine($"README curl block: exit {r.ExitCode}\n{r.StandardOutput}");
        Assert.True(r.ExitCode == 0, r.Describe("README curl walk-through") + "\n" + fixture.Suite.Output);
        var lines = r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => (Json: JsonDocument.Parse(l[..l.LastIndexOf(' ')]).RootElement, Status: int.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)))
            .ToArray();
        Assert.Equal([200, 200, 200, 401, 400], lines.Select(l => l.Status));
        Assert.Equal(1, lines[1].Json.GetProperty("delivered").GetInt64());
        Assert.Equal(1, lines[2].Json.GetProperty("count").GetInt64());
        Assert.Equal("hello from curl", pushed);
        Assert.Equal(16, lines[3].Json.GetProperty("code").GetInt32());
        Assert.Equal("ERROR_REASON_UNAUTHENTICATED", Reason(lines[3].Json));
        Assert.Equal(3, lines[4].Json.GetProperty("code").GetInt32());
        Assert.Equal("ERROR_REASON_INVALID_FIELD", Reason(lines[4].Json));
        Assert.StartsWith("groups[0]:", lines[4].Json.GetProperty("message").GetString(), StringComparison.Ordinal);
        await fixture.Control.Raw.LeaveGroupAsync(new Push.V1.LeaveGroupRequest { ClientId = ws.ClientId, Group = "room1" }, cancellationToken: ct);
    }

    private string Api => fixture.Suite.Api?.ToString().TrimEnd('/') ?? throw new InvalidOperationException("push start serves no HTTP/JSON API (--api)");

    /// <summary>The bash block after the README's "run by tests/Push.ToolingTests/HttpApiExampleTests.cs" marker.</summary>
    internal static string ReadmeBlock()
    {
        var readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md")).ReplaceLineEndings("\n");
        var marker = readme.IndexOf("<!-- run by tests/Push.ToolingTests/HttpApiExampleTests.cs", StringComparison.Ordinal);
        Assert.True(marker >= 0, "README.md lost the marked HTTP/JSON curl block");
        var start = readme.IndexOf("```bash\n", marker, StringComparison.Ordinal) + "```bash\n".Length;
        return readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
    }

    private static string? Reason(JsonElement status)
        => status.GetProperty("details").EnumerateArray()
            .Where(d => d.GetProperty("@type").GetString() == "type.googleapis.com/google.rpc.ErrorInfo")
            .Select(d => d.GetProperty("reason").GetString())
            .FirstOrDefault();

    [GeneratedRegex("^API=.*$", RegexOptions.Multiline)]
    private static partial Regex ApiLine();

    [GeneratedRegex("^CLIENT_ID=.*$", RegexOptions.Multiline)]
    private static partial Regex ClientIdLine();
}
