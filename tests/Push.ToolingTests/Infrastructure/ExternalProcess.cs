using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace Push.ToolingTests.Infrastructure;

/// <summary>The result of a command that ran to its end.</summary>
internal sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed)
{
    public string Describe(string what) => $"{what} exited with {ExitCode} after {Elapsed.TotalSeconds:F1} s\n--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";
}

/// <summary>
/// A non-.NET process a test runs (buf, node, python, chromium via node): stdout lines are queued so a test can wait
/// for a line, both streams are kept for failure messages, and the whole process tree is killed when disposed.
/// </summary>
internal sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private ExternalProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public string Description { get; }

    public string StandardOutput
    {
        get { lock (_stdout) { return _stdout.ToString(); } }
    }

    public string StandardError
    {
        get { lock (_stderr) { return _stderr.ToString(); } }
    }

    public string Output => $"{Description}\n--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";

    public static ExternalProcess Start(string file, IEnumerable<string> args, string? workingDirectory = null, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Push.Testing.RepoPaths.Root,
        };
        var list = args.ToList();
        foreach (var a in list)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"could not start '{file}' ({ex.Message}): run .ci/setup, it installs the tools the tests use", ex);
        }
        process.StandardInput.Close();
        var p = new ExternalProcess(process, $"{file} {string.Join(' ', list)}");
        process.OutputDataReceived += (_, e) => p.OnStdout(e.Data);
        process.ErrorDataReceived += (_, e) => p.OnStderr(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return p;
    }

    /// <summary>Runs a command to its end (killed and reported when it outlives <paramref name="timeout"/>).</summary>
    public static async Task<CommandResult> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null, IDictionary<string, string>? environment = null)
    {
        await using var p = Start(file, args, workingDirectory, environment);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var code = await p.WaitForExitAsync(cts.Token);
            return new CommandResult(code, p.StandardOutput, p.StandardError, p._clock.Elapsed);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{p.Description} did not finish within {timeout.TotalSeconds} s:\n{p.Output}");
        }
    }

    private void OnStdout(string? line)
    {
        if (line is null)
        {
            _lines.Writer.TryComplete();
            _stdoutClosed.TrySetResult();
            return;
        }
        lock (_stdout)
        {
            _stdout.AppendLine(line);
        }
        _lines.Writer.TryWrite(line);
    }

    private void OnStderr(string? line)
    {
        if (line is null)
        {
            _stderrClosed.TrySetResult();
            return;
        }
        lock (_stderr)
        {
            _stderr.AppendLine(line);
        }
    }

    /// <summary>Waits for the next stdout line that matches (earlier lines are consumed); fails with the output when the process ends first.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var line in _lines.Reader.ReadAllAsync(cancellationToken))
            {
                if (match(line))
                {
                    return line;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the expected line did not come in time from:\n{Output}");
        }
        throw new InvalidOperationException($"the process ended before the expected line:\n{Output}");
    }

    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        // output is complete only once both pipes are closed
        await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGTERM (graceful stop).</summary>
    public void Terminate()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill?.WaitForExit();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception)
        {
        }
        _process.Dispose();
    }
}
