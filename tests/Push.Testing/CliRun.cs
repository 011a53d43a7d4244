using System.Diagnostics;
using System.Text;

namespace Push.Testing;

/// <summary>Runs one short `push` command (status, send, --help...) to completion and returns its exit code and output.</summary>
public static class CliRun
{
    public static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<string> args, IDictionary<string, string> environment, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(RepoPaths.PushDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var name in new[] { "PUSH_SECRET", "PUSH_CONTROL_SECRET", "PUSH_GRPC", "PUSH_REGISTRY" })
        {
            psi.Environment.Remove(name);
        }
        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        lock (output)
        {
            return (process.ExitCode, output.ToString());
        }
    }
}
