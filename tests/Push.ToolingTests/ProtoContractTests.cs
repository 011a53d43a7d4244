using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>The contract in protos/ is linted and never breaks silently: buf lint and buf breaking run on every CI run.</summary>
[Trait("Category", "Tooling")]
public sealed class ProtoContractTests(ITestOutputHelper output)
{
    private static readonly TimeSpan BufTimeout = TimeSpan.FromSeconds(60);

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
    public async Task BufBreaking_AgainstParentCommit_NoBreakingChange()
    {
        // Arrange: a clone without history (or a first commit) has nothing to compare with.
        var parent = await ExternalProcess.RunAsync("git", ["rev-parse", "--verify", "--quiet", "HEAD~1^{commit}"], BufTimeout);
        if (parent.ExitCode != 0)
        {
            output.WriteLine("NOTE: the repository has no parent commit here (first commit or shallow clone): buf breaking has nothing to compare with; skipped the comparison.");
            Assert.Equal(string.Empty, parent.StandardOutput.Trim());
            return;
        }

        // Act
        var r = await ExternalProcess.RunAsync(ExternalTools.Buf, ["breaking", "--against", ".git#ref=HEAD~1"], BufTimeout);

        // Assert
        output.WriteLine($"buf breaking --against .git#ref=HEAD~1 ({parent.StandardOutput.Trim()[..12]}): exit {r.ExitCode} in {r.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(r.ExitCode == 0, r.Describe("buf breaking (a change to protos/ breaks clients of the previous commit; add a push.v2 package instead)"));
    }

    [Fact]
    public async Task BufBreaking_RemovedRpc_IsReported()
    {
        // Arrange: a copy of the contract with one RPC deleted, as a careless edit would do.
        var dir = Directory.CreateTempSubdirectory("push-buf-breaking-").FullName;
        try
        {
            File.Copy(Path.Combine(RepoPaths.Root, "buf.yaml"), Path.Combine(dir, "buf.yaml"));
            foreach (var file in Directory.GetFiles(Path.Combine(RepoPaths.Root, "protos"), "*.proto", SearchOption.AllDirectories))
            {
                var target = Path.Combine(dir, Path.GetRelativePath(RepoPaths.Root, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            var edited = Path.Combine(dir, "protos", "push", "v1", "gateway_service.proto");
            var lines = await File.ReadAllLinesAsync(edited);
            Assert.Contains(lines, l => l.Contains("rpc Drain(", StringComparison.Ordinal));
            await File.WriteAllLinesAsync(edited, lines.Where(l => !l.Contains("rpc Drain(", StringComparison.Ordinal)));

            // Act
            var r = await ExternalProcess.RunAsync(ExternalTools.Buf, ["breaking", dir, "--against", RepoPaths.Root], BufTimeout);

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
}
