using System.Diagnostics;
using Push.ToolingTests.Infrastructure;

namespace Push.ToolingTests.Packages;

/// <summary>
/// Runs the SDK's own commands (pack, add package, build, tool install) as a user would, to completion. The test
/// host's MSBuild variables are not passed on (they belong to the build that started the tests), no build server or
/// node outlives a command (it would hold the output pipes open), and nothing is sent anywhere.
/// </summary>
internal static class DotnetCli
{
    public static async Task<CommandResult> RunAsync(IEnumerable<string> args, string workingDirectory, TimeSpan timeout, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        var list = args.ToList();
        foreach (var a in list)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>())
        {
            if (name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
            {
                psi.Environment.Remove(name);
            }
        }
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["UseSharedCompilation"] = "false";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        var description = $"dotnet {string.Join(' ', list)} (in {workingDirectory})";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            await Task.WhenAll(stdout, stderr).WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{description} did not finish within {timeout.TotalSeconds} s");
        }
        return new CommandResult(process.ExitCode, await stdout, await stderr, clock.Elapsed);
    }

    /// <summary>Runs and asserts exit code 0 (the failure message carries both streams).</summary>
    public static async Task<CommandResult> RunCheckedAsync(IEnumerable<string> args, string workingDirectory, TimeSpan timeout, IDictionary<string, string>? environment = null)
    {
        var list = args.ToList();
        var result = await RunAsync(list, workingDirectory, timeout, environment);
        if (result.ExitCode != 0)
        {
            throw new Xunit.Sdk.XunitException(result.Describe($"dotnet {string.Join(' ', list)} (in {workingDirectory})"));
        }
        return result;
    }
}
