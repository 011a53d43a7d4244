using System.Diagnostics;
using System.Text.Json;

namespace Push.Bench.Driver;

/// <summary>
/// The Node backend (bench/node/publisher.js, @grpc/grpc-js): one long-lived `node` child that makes the unary
/// push calls of the fan-out scenarios, N in flight. Its modules come from bench/node/node_modules (installed
/// here with `npm ci` from bench/node/package-lock.json when missing) or, failing that, examples/node/node_modules
/// (through NODE_PATH).
/// </summary>
public sealed class NodeBackend : IDisposable
{
    private readonly Process _process;
    private readonly SemaphoreSlim _gate = new(1);
    private int _nextId;

    private NodeBackend(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>What runs (node version, where its modules come from).</summary>
    public string Description { get; }

    /// <summary>Starts the backend, or returns null with the reason it cannot run here.</summary>
    public static (NodeBackend? Backend, string Note) TryStart(string? repoRoot)
    {
        if (repoRoot is null)
        {
            return (null, "repository root not found");
        }
        string dir = Path.Combine(repoRoot, "bench", "node");
        string script = Path.Combine(dir, "publisher.js");
        string? version = Run("node", ["--version"], dir, TimeSpan.FromSeconds(20));
        if (version is null)
        {
            return (null, "`node` not found on PATH");
        }
        string? nodePath = null;
        string modules = Path.Combine(dir, "node_modules", "@grpc", "grpc-js");
        if (!Directory.Exists(modules))
        {
            string examples = Path.Combine(repoRoot, "examples", "node", "node_modules");
            if (Directory.Exists(Path.Combine(examples, "@grpc", "grpc-js")))
            {
                nodePath = examples;
            }
            else
            {
                Console.Error.WriteLine("installing bench/node (npm ci)...");
                Run("npm", ["ci", "--no-audit", "--no-fund"], dir, TimeSpan.FromMinutes(3));
                if (!Directory.Exists(modules))
                {
                    return (null, "bench/node: `npm ci` failed and examples/node has no node_modules");
                }
            }
        }
        var info = new ProcessStartInfo("node") { WorkingDirectory = dir, RedirectStandardInput = true, RedirectStandardOutput = true };
        info.ArgumentList.Add(script);
        info.Environment["PUSH_PROTOS"] = Path.Combine(repoRoot, "protos");
        if (nodePath is not null)
        {
            info.Environment["NODE_PATH"] = nodePath;
        }
        var p = Children.Start(info, null);
        return (new NodeBackend(p, $"node {version.Trim()}, @grpc/grpc-js from {(nodePath is null ? "bench/node" : "examples/node")}"), string.Empty);
    }

    private static string? Run(string file, string[] args, string dir, TimeSpan timeout)
    {
        try
        {
            var info = new ProcessStartInfo(file) { WorkingDirectory = dir, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in args)
            {
                info.ArgumentList.Add(a);
            }
            using var p = Process.Start(info);
            if (p is null)
            {
                return null;
            }
            string output = p.StandardOutput.ReadToEnd();
            return p.WaitForExit(timeout) && p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>
    /// Makes <paramref name="count"/> unary calls (SendToAll, or SendToGroup of <paramref name="group"/>) to
    /// <paramref name="target"/>, <paramref name="inFlight"/> at a time, sequence numbers from <paramref name="seq"/>.
    /// </summary>
    public async Task<(long Ok, long Errors, string? FirstError)> PushAsync(Uri target, string? group, int count, int inFlight, int seq, string? secret = null)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            int id = ++_nextId;
            string cmd = JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["id"] = id,
                ["target"] = $"{target.Host}:{target.Port}",
                ["op"] = group is null ? "all" : "group",
                ["group"] = group,
                ["count"] = count,
                ["inflight"] = inFlight,
                ["seq"] = seq,
                ["secret"] = secret,
            });
            await _process.StandardInput.WriteLineAsync(cmd).ConfigureAwait(false);
            await _process.StandardInput.FlushAsync().ConfigureAwait(false);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            while (true)
            {
                string line = await _process.StandardOutput.ReadLineAsync(cts.Token).ConfigureAwait(false)
                    ?? throw new IOException("the Node backend exited");
                if (!line.StartsWith('{'))
                {
                    continue;
                }
                using var doc = JsonDocument.Parse(line);
                var r = doc.RootElement;
                string? first = r.TryGetProperty("firstError", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
                return (r.GetProperty("ok").GetInt64(), r.GetProperty("errors").GetInt64(), first);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(3000))
            {
                Children.Kill(_process);
            }
        }
        catch (InvalidOperationException)
        {
        }
        Children.Kill(_process);
        _gate.Dispose();
    }
}
