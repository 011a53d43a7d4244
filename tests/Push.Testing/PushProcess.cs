using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Push.Testing;

/// <summary>
/// A real `push` process (start, registry, gateway or worker) on loopback with OS-chosen ports. Its output is kept
/// for diagnostics; it is killed when disposed.
/// </summary>
public sealed class PushProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _readyFile;

    private PushProcess(Process process, string readyFile, string description)
    {
        _process = process;
        _readyFile = readyFile;
        Description = description;
    }

    public string Description { get; }

    /// <summary>The credential a backend uses with this process (null when it runs without authentication).</summary>
    public string? ControlSecret { get; private init; }

    /// <summary>A control client of this process's gRPC endpoint, holding <see cref="ControlSecret"/>.</summary>
    public Push.Control.PushControlClient Control(TimeSpan? timeout = null)
        => new(GrpcAddress, new Push.Control.PushControlOptions { Secret = ControlSecret, Timeout = timeout ?? TimeSpan.FromSeconds(10) });

    /// <summary>A control client holding the member credential, for member-scope calls such as Drain.</summary>
    public Push.Control.PushControlClient MemberControl()
        => new(GrpcAddress, new Push.Control.PushControlOptions { Secret = ControlSecret is null ? null : TestSecrets.Member, Timeout = TimeSpan.FromSeconds(10) });

    private static string? ArgValue(List<string> args, string flag)
    {
        var i = args.IndexOf(flag);
        return i >= 0 && i + 1 < args.Count ? args[i + 1] : null;
    }
    public int Pid => _process.Id;
    public Uri Ws { get; private set; } = null!;
    public Uri Grpc { get; private set; } = null!;
    public Uri? Http { get; private set; }
    /// <summary>The HTTP/JSON control API (--api), when the process serves one.</summary>
    public Uri? Api { get; private set; }
    public string GrpcAddress => Grpc.ToString().TrimEnd('/');
    public bool HasExited => _process.HasExited;

    public string Output
    {
        get { lock (_output) { return _output.ToString(); } }
    }

    /// <summary>
    /// Starts `push ARGS` and waits until it listens and, with <paramref name="waitReady"/>, until it has started
    /// (/healthz/startup: listening and registered); `start` also until /healthz/ready is Healthy (its gateway has its
    /// stream to its own worker open). A lone gateway is not ready before a worker stream opens: wait for that with
    /// <see cref="WaitHealthyAsync"/> once its workers run.
    /// With <paramref name="secured"/> (the default: the configuration users run) and no --secret/--control-secret in
    /// <paramref name="args"/>, the process gets <see cref="TestSecrets.Member"/> and <see cref="TestSecrets.Control"/>;
    /// <see cref="Control"/> then makes control clients that hold the backend credential.
    /// <paramref name="executable"/> runs another build of the CLI (e.g. the installed .NET tool) instead of the
    /// solution's push.dll.
    /// </summary>
    public static async Task<PushProcess> StartAsync(string command, IEnumerable<string>? args = null, IDictionary<string, string>? environment = null, bool waitReady = true, string host = "127.0.0.1", bool secured = true, string? executable = null, CancellationToken cancellationToken = default)
    {
        var readyFile = Path.Combine(Path.GetTempPath(), $"push-ready-{Guid.NewGuid():N}.json");
        var psi = new ProcessStartInfo(executable ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (executable is null)
        {
            psi.ArgumentList.Add(RepoPaths.PushDll);
        }
        psi.ArgumentList.Add(command);
        var list = (args ?? []).ToList();
        var controlSecret = ArgValue(list, "--control-secret") ?? ArgValue(list, "--secret");
        if (secured && controlSecret is null && command is "start" or "registry" or "gateway" or "worker")
        {
            list.AddRange(["--secret", TestSecrets.Member, "--control-secret", TestSecrets.Control]);
            controlSecret = TestSecrets.Control;
        }
        if (command != "worker" && command != "registry" && !list.Contains("--ws"))
        {
            list.AddRange(["--ws", $"{host}:0"]);
        }
        if (!list.Contains("--grpc"))
        {
            list.AddRange(["--grpc", $"{host}:0"]);
        }
        if (!list.Contains("--http"))
        {
            list.AddRange(["--http", $"{host}:0"]);
        }
        if (command is "start" or "gateway" && !list.Contains("--api"))
        {
            list.AddRange(["--api", $"{host}:0"]); // the HTTP/JSON control API (start's default port 8285 would collide)
        }
        list.AddRange(["--ready-file", readyFile]);
        foreach (var a in list)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["DOTNET_gcServer"] = "0";
        psi.Environment.Remove("PUSH_REGISTRY");
        psi.Environment.Remove("PUSH_SECRET");
        psi.Environment.Remove("PUSH_CONTROL_SECRET");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        var p = new PushProcess(process, readyFile, $"push {command} {string.Join(' ', list)}") { ControlSecret = controlSecret?.Split(',')[0] };
        process.OutputDataReceived += (_, e) => p.Append(e.Data);
        process.ErrorDataReceived += (_, e) => p.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await p.WaitListeningAsync(cancellationToken).ConfigureAwait(false);
            if (waitReady && p.Http is not null)
            {
                await p.WaitProbeAsync("/healthz/startup", requireHealthy: false, cancellationToken).ConfigureAwait(false);
                if (command == "start")
                {
                    await p.WaitHealthyAsync(requireHealthy: true, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            await p.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return p;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
            _waiters.RemoveAll(w => line.Contains(w.Text, StringComparison.Ordinal) && w.Seen.TrySetResult());
        }
    }

    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = [];

    /// <summary>Completes when a line of the process's output contains <paramref name="text"/> (at once if one did already).</summary>
    public Task WaitForOutputAsync(string text, CancellationToken cancellationToken)
    {
        lock (_output)
        {
            if (_output.ToString().Contains(text, StringComparison.Ordinal))
            {
                return Task.CompletedTask;
            }
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((text, seen));
            return seen.Task.WaitAsync(cancellationToken);
        }
    }

    private async Task WaitListeningAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (!File.Exists(_readyFile))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Description} exited with {_process.ExitCode}:\n{Output}");
            }
            try
            {
                await Task.Delay(25, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{Description} did not start listening within 30 s:\n{Output}");
            }
        }
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(_readyFile, ct).ConfigureAwait(false));
        var root = doc.RootElement;
        if (root.TryGetProperty("ws", out var ws) && ws.ValueKind == JsonValueKind.String)
        {
            Ws = new Uri(ws.GetString()!.Replace("http", "ws", StringComparison.Ordinal));
        }
        Grpc = new Uri(root.GetProperty("grpc").GetString()!);
        if (root.TryGetProperty("http", out var http) && http.ValueKind == JsonValueKind.String)
        {
            Http = new Uri(http.GetString()!);
        }
        if (root.TryGetProperty("api", out var api) && api.ValueKind == JsonValueKind.String)
        {
            Api = new Uri(api.GetString()!);
        }
        File.Delete(_readyFile);
    }

    /// <summary>Waits until /healthz/ready answers 200 (Healthy, or Degraded unless <paramref name="requireHealthy"/>).</summary>
    public Task WaitHealthyAsync(bool requireHealthy = false, CancellationToken ct = default)
        => WaitProbeAsync("/healthz/ready", requireHealthy, ct);

    /// <summary>Polls a probe endpoint (every 50 ms, at most 30 s) until it answers 200 (and "Healthy" when <paramref name="requireHealthy"/>).</summary>
    public async Task WaitProbeAsync(string path, bool requireHealthy, CancellationToken ct = default)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                using var r = await http.GetAsync(new Uri(Http!, path), timeout.Token).ConfigureAwait(false);
                if (r.IsSuccessStatusCode && (!requireHealthy || await r.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false) == "Healthy"))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!timeout.IsCancellationRequested)
            {
            }
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Description} exited with {_process.ExitCode}:\n{Output}");
            }
            try
            {
                await Task.Delay(50, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{Description}: {path} did not answer 200{(requireHealthy ? " Healthy" : string.Empty)} within 30 s:\n{Output}");
            }
        }
    }

    /// <summary>kill -9.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>kill -TERM: graceful shutdown (a gateway drains).</summary>
    public void Terminate()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill?.WaitForExit();
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            Kill();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
        _process.Dispose();
        if (File.Exists(_readyFile))
        {
            File.Delete(_readyFile);
        }
    }
}
