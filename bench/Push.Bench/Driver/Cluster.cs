using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Push.V1;

namespace Push.Bench.Driver;

/// <summary>One `push registry|gateway|worker` process of a benchmark cluster (killed with the driver, even on SIGKILL).</summary>
public sealed class MemberProcess : IDisposable
{
    private MemberProcess(string role, Process process, string log, Uri grpc, Uri? ws, int pid)
    {
        Role = role;
        Process = process;
        Log = log;
        Grpc = grpc;
        Ws = ws;
        Pid = pid;
    }

    public string Role { get; }

    public Process Process { get; }

    public string Log { get; }

    public Uri Grpc { get; }

    public Uri? Ws { get; }

    public int Pid { get; }

    public IPEndPoint WsEndPoint => new(IPAddress.Parse(Ws!.Host), Ws.Port);

    public static async Task<MemberProcess> StartAsync(string dll, string role, string host, IEnumerable<string> args, string work, string name, TimeSpan timeout)
    {
        string ready = Path.Combine(work, name + ".json");
        string log = Path.Combine(work, name + ".log");
        File.Delete(ready);
        var info = new ProcessStartInfo("/bin/sh") { WorkingDirectory = work, RedirectStandardInput = true };
        var all = new List<string> { "-c", Program.SuiteWrapper, "push-bench-" + role, "dotnet", dll, role, "--grpc", host + ":0", "--http", host + ":0" };
        if (role == "gateway")
        {
            all.AddRange(["--ws", host + ":0"]);
        }
        all.AddRange(args);
        all.AddRange(["--ready-file", ready]);
        foreach (string a in all)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["DOTNET_gcServer"] = "0";
        foreach (string v in new[] { "PUSH_REGISTRY", "PUSH_SECRET", "PUSH_CONTROL_SECRET" })
        {
            info.Environment.Remove(v);
        }
        var p = Children.Start(info, log);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException($"push {role} exited with code {p.ExitCode} before it was ready: {FirstError(log)}");
            }
            if (File.Exists(ready))
            {
                try
                {
                    using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(ready).ConfigureAwait(false));
                    var root = doc.RootElement;
                    var grpc = new Uri(root.GetProperty("grpc").GetString()!);
                    Uri? ws = root.TryGetProperty("ws", out var w) && w.ValueKind == JsonValueKind.String ? new Uri(w.GetString()!) : null;
                    int pid = root.TryGetProperty("pid", out var pidEl) ? pidEl.GetInt32() : p.Id;
                    return new MemberProcess(role, p, log, grpc, ws, pid);
                }
                catch (Exception ex) when (ex is JsonException or IOException or KeyNotFoundException or UriFormatException)
                {
                }
            }
            await Task.Delay(50).ConfigureAwait(false);
        }
        Children.Kill(p);
        throw new TimeoutException($"push {role} was not ready within {timeout.TotalSeconds:0} s: {FirstError(log)}");
    }

    /// <summary>The first line of the log that looks like the reason a process stopped (else its last lines).</summary>
    public static string FirstError(string log)
    {
        Thread.Sleep(300);
        string tail = ServerProcess.Tail(log, 6).ReplaceLineEndings(" ");
        try
        {
            return File.ReadLines(log).FirstOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase) || l.Contains("invalid", StringComparison.OrdinalIgnoreCase) || l.Contains("unknown", StringComparison.OrdinalIgnoreCase)) ?? tail;
        }
        catch (IOException)
        {
            return tail;
        }
    }

    public void Dispose()
    {
        try
        {
            Process.StandardInput.Close();
        }
        catch (InvalidOperationException)
        {
        }
        Children.Kill(Process);
    }
}

/// <summary>
/// A cluster of real processes on loopback: a registry, N gateways and one demo worker, secured with a member and a
/// control secret like a deployment. Each gateway on its own 127.0.0.x address; <see cref="Control"/> calls carry
/// the control secret.
/// </summary>
public sealed class BenchCluster : IDisposable
{
    public const string MemberSecret = "bench-member-secret-0123456789abcdef";
    public const string ControlSecret = "bench-control-secret-0123456789abcdef";

    private readonly List<GrpcChannel> _channels = [];

    public MemberProcess? Registry { get; private set; }

    public MemberProcess? Worker { get; private set; }

    public List<MemberProcess> Gateways { get; } = [];

    public List<GatewayService.GatewayServiceClient> Controls { get; } = [];

    public static Metadata Auth { get; } = new() { { "authorization", "Bearer " + ControlSecret } };

    /// <summary>
    /// Starts registry (on <paramref name="registryHost"/>), gateways (on <paramref name="gatewayHosts"/>, each with
    /// <paramref name="gatewaySets"/> as --set) and a worker, and waits until every gateway sees every gateway and a
    /// worker stream. Throws (after disposing what started) when a process refuses to start.
    /// </summary>
    public static async Task<BenchCluster> StartAsync(string dll, string work, string tag, string registryHost, string workerHost, IReadOnlyList<string> gatewayHosts, IReadOnlyList<string> gatewaySets, TimeSpan timeout)
    {
        var c = new BenchCluster();
        try
        {
            string[] secrets = ["--secret", MemberSecret, "--control-secret", ControlSecret];
            c.Registry = await MemberProcess.StartAsync(dll, "registry", registryHost, secrets, work, $"{tag}-registry", timeout).ConfigureAwait(false);
            string reg = c.Registry.Grpc.ToString().TrimEnd('/');
            var member = new List<string>(secrets) { "--registry", reg };
            var gwArgs = new List<string>(member);
            foreach (string s in gatewaySets)
            {
                gwArgs.AddRange(["--set", s]);
            }
            var gateways = gatewayHosts.Select((h, i) => MemberProcess.StartAsync(dll, "gateway", h, gwArgs, work, $"{tag}-gateway{i + 1}", timeout)).ToList();
            var worker = MemberProcess.StartAsync(dll, "worker", workerHost, member, work, $"{tag}-worker", timeout);
            try
            {
                await Task.WhenAll(gateways.Cast<Task>().Append(worker)).ConfigureAwait(false);
            }
            finally
            {
                foreach (var g in gateways.Where(g => g.IsCompletedSuccessfully))
                {
                    c.Gateways.Add(g.Result);
                }
                if (worker.IsCompletedSuccessfully)
                {
                    c.Worker = worker.Result;
                }
            }
            foreach (var g in c.Gateways)
            {
                var ch = Scenarios.Channel(g.Grpc);
                c._channels.Add(ch);
                c.Controls.Add(new GatewayService.GatewayServiceClient(ch));
            }
            await c.WaitReadyAsync(timeout).ConfigureAwait(false);
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    private async Task WaitReadyAsync(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        string last = "no answer";
        int n = Gateways.Count;
        while (sw.Elapsed < timeout)
        {
            bool all = true;
            foreach (var control in Controls)
            {
                try
                {
                    var s = await control.GetStatusAsync(new GetStatusRequest(), Auth, DateTime.UtcNow.AddSeconds(5)).ResponseAsync.ConfigureAwait(false);
                    if (s.Reach.GatewaysTotal != n || s.Reach.GatewaysAnswered != n || s.Gateways.Any(g => g.WorkersConnected < 1))
                    {
                        last = $"sees {s.Reach.GatewaysAnswered}/{s.Reach.GatewaysTotal} of {n} gateways, workers connected {string.Join(',', s.Gateways.Select(g => g.WorkersConnected))}";
                        all = false;
                        break;
                    }
                }
                catch (RpcException ex)
                {
                    last = ex.Status.ToString();
                    all = false;
                    break;
                }
            }
            if (all)
            {
                return;
            }
            await Task.Delay(200).ConfigureAwait(false);
        }
        throw new TimeoutException($"cluster of {n} gateways not ready within {timeout.TotalSeconds:0} s ({last})");
    }

    public static string Host(int lastOctet) => "127.0.0." + lastOctet.ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        foreach (var ch in _channels)
        {
            ch.Dispose();
        }
        foreach (var g in Gateways)
        {
            g.Dispose();
        }
        Worker?.Dispose();
        Registry?.Dispose();
    }
}
