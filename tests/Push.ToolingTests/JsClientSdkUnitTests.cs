using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>The JavaScript SDK's own checks in CI: its type check and its `node --test` unit tests (a scripted ws gateway).</summary>
[Trait("Category", "Integration")]
public sealed class JsClientSdkUnitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task JsSdk_Typecheck_Passes()
    {
        // Arrange
        await JsClientSdk.EnsureBuiltAsync();

        // Act
        var r = await ExternalProcess.RunAsync(JsClientSdk.Npm, ["run", "typecheck"], TimeSpan.FromMinutes(2), workingDirectory: JsClientSdk.Dir);

        // Assert
        output.WriteLine(r.StandardOutput);
        Assert.True(r.ExitCode == 0, r.Describe("npm run typecheck (clients/js)"));
    }

    [Fact]
    public async Task JsSdk_NodeUnitTests_Pass()
    {
        // Arrange: the built dist/ (not `npm test`, which rebuilds it under the other tests' feet)
        await JsClientSdk.EnsureBuiltAsync();
        var files = Directory.GetFiles(Path.Combine(JsClientSdk.Dir, "test"), "*.test.mjs").Order(StringComparer.Ordinal).ToList();

        // Act
        var r = await ExternalProcess.RunAsync(ExternalTools.Node, ["--test", .. files], TimeSpan.FromMinutes(2), workingDirectory: JsClientSdk.Dir);

        // Assert
        output.WriteLine(r.StandardOutput);
        Assert.True(files.Count >= 3, "the unit test files");
        Assert.True(r.ExitCode == 0, r.Describe("node --test (clients/js)"));
        Assert.Contains("# fail 0", r.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("# pass 0", r.StandardOutput, StringComparison.Ordinal);
    }
}
