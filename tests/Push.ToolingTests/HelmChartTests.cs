using System.Diagnostics;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.ToolingTests;

[Trait("Category", "Tooling")]
public sealed class HelmChartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Chart_LintsRendersAndValidatesAgainstKubernetesSchemas()
    {
        // Arrange
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoPaths.Root };
        psi.ArgumentList.Add(Path.Combine(RepoPaths.Root, "charts", "validate.sh"));

        // Act
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(cts.Token);
        output.WriteLine(await stdout);
        output.WriteLine(await stderr);

        // Assert
        Assert.True(p.ExitCode == 0, $"charts/validate.sh failed ({p.ExitCode}); run .ci/setup first if helm or node modules are missing:\n{await stdout}\n{await stderr}");
        Assert.Contains("PASS: charts/push is valid", await stdout, StringComparison.Ordinal);
    }
}
