using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The contract in protos/ is linted and never breaks silently: buf lint, and buf breaking against the last accepted
/// contract (protos/baseline/push-v1.binpb), run on every CI run.
/// </summary>
[Trait("Category", "Tooling")]
public sealed class ProtoContractTests(ITestOutputHelper output)
{
    private static readonly TimeSpan BufTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The last accepted contract (a buf image), relative to the repository root.</summary>
    private const string Baseline = "protos/baseline/push-v1.binpb";

    [Fact]
    public async Task BufLint_Protos_Pass()
    {
        // Act
        var r = await ExternalProcess.RunAsync(ExternalTools.Buf, ["lint"], BufTimeout);

        // Assert
        output.WriteLine($"buf lint: exit {r.ExitCode} in {r.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(r.ExitCode == 0, r.Describe("buf lint"));
    }

    [Fact]
    public async Task BufBreaking_AgainstAcceptedBaseline_NoBreakingChange()
    {
        // Arrange: the last accepted contract is a committed image (protos/baseline/README.md says when it may be
        // rebuilt); comparing with it, not with the parent commit, also catches a break spread over several commits.
        Assert.True(File.Exists(Path.Combine(RepoPaths.Root, Baseline)), $"{Baseline} is missing: rebuild it as protos/baseline/README.md says");

        // Act
        var r = await ExternalProcess.RunAsync(ExternalTools.Buf, ["breaking", "--against", Baseline], BufTimeout);

        // Assert
        output.WriteLine($"buf breaking --against {Baseline}: exit {r.ExitCode} in {r.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(r.ExitCode == 0, r.Describe($"buf breaking (a change to protos/ breaks clients of the accepted contract {Baseline}; after 1.0 add a push.v2 package; before 1.0 a deliberate break is written into CHANGELOG.md and the baseline rebuilt, see protos/baseline/README.md)"));
    }

    [Fact]
    public async Task Baseline_KnowsTheBrokenSendToAllContract_RejectsItsReturn()
    {
        // Arrange: the recorded break (CHANGELOG.md) is in the baseline: SendToClients exists and SendToAll's
        // client_ids is reserved, so a contract that brings either back is reported.
        var changelog = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "CHANGELOG.md"));
        Assert.Contains("SendToAll no longer takes client_ids; use SendToClients", changelog.Replace("`", "", StringComparison.Ordinal), StringComparison.Ordinal);
        var dir = CopyContract();
        try
        {
            var edited = Path.Combine(dir, "protos", "push", "v1", "gateway_service.proto");
            var text = await File.ReadAllTextAsync(edited);
            Assert.Contains("  reserved \"client_ids\";\n", text, StringComparison.Ordinal);
            await File.WriteAllTextAsync(edited, text.Replace("  reserved \"client_ids\";\n", "  repeated string client_ids = 1;\n", StringComparison.Ordinal).Replace("  reserved 1;\n", "", StringComparison.Ordinal));

            // Act
            var r = await ExternalProcess.RunAsync(ExternalTools.Buf, ["breaking", dir, "--against", Baseline], BufTimeout);

            // Assert
            output.WriteLine(r.StandardOutput);
            Assert.True(r.ExitCode != 0, r.Describe("buf breaking on client_ids brought back into SendToAllRequest"));
            Assert.Contains("SendToAllRequest", r.StandardOutput + r.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task BufBreaking_RemovedRpc_IsReported()
    {
        // Arrange: a copy of the contract with one RPC deleted, as a careless edit would do.
        var dir = CopyContract();
        try
        {
            var edited = Path.Combine(dir, "protos", "push", "v1", "gateway_service.proto");
            var lines = await File.ReadAllLinesAsync(edited);
            Assert.Contains(lines, l => l.Contains("rpc Drain(", StringComparison.Ordinal));
            // the rpc with its option block (google.api.http): from "rpc Drain(" to the first line closing it
            var start = Array.FindIndex(lines, l => l.Contains("rpc Drain(", StringComparison.Ordinal));
            var end = lines[start].TrimEnd().EndsWith(';') ? start : Array.FindIndex(lines, start, l => l == "  }");
            await File.WriteAllLinesAsync(edited, lines.Where((_, i) => i < start || i > end));

            // Act
            var r = await ExternalProcess.RunAsync(ExternalTools.Buf, ["breaking", dir, "--against", Baseline], BufTimeout);

            // Assert
            output.WriteLine(r.StandardOutput);
            Assert.True(r.ExitCode != 0, r.Describe("buf breaking on a deleted RPC"));
            Assert.Contains("Previously present RPC \"Drain\"", r.StandardOutput + r.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A temporary copy of buf.yaml and the .proto files (not the baseline), to edit as a careless change would.</summary>
    private static string CopyContract()
    {
        var dir = Directory.CreateTempSubdirectory("push-buf-breaking-").FullName;
        File.Copy(Path.Combine(RepoPaths.Root, "buf.yaml"), Path.Combine(dir, "buf.yaml"));
        foreach (var file in Directory.GetFiles(Path.Combine(RepoPaths.Root, "protos"), "*.proto", SearchOption.AllDirectories))
        {
            var target = Path.Combine(dir, Path.GetRelativePath(RepoPaths.Root, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return dir;
    }
}
