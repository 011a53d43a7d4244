using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Push.Bench.Load;
using Push.V1;

namespace Push.Bench.Driver;

/// <summary>
/// Cluster routing: registry + 1 worker + N gateways as real processes; 200 clients in 20 groups of 10, all on
/// gateway 1; SendToGroup with 64 in flight, in two placements: "member" (every call through gateway 1, where the
/// members are: with interest routing it asks no other gateway) and "forward" (through the other gateways in turn,
/// gateway 1 when N = 1: each call is one forward hop to gateway 1). For each routing mode (Cluster:Routing=mesh, and
/// nats with a nats-server started here), N and placement: calls/s, lost, p99, gateways asked per call (the answers'
/// ClusterReach.gateways_asked) and the CPU time of the gateways (and nats-server) per call; then the N-gateway /
/// 1-gateway ratio per placement, and what the N gateways cost idle (CPU over 3 s with no calls). A mode the gateways
/// refuse, or (nats) that never connects to the nats-server, gets a "not available" cell instead of a figure.
/// </summary>
public sealed class ClusterScenario(Options o, string dll, string work)
{
    private const int GroupSize = 10;
    private static readonly string[] Placements = ["member", "forward"];

    private readonly Dictionary<(string Mode, int N, string Placement), string> _cells = [];
    private readonly Dictionary<(string Mode, int N, string Placement), double> _rates = [];
    private readonly Dictionary<(string Mode, int N), string> _idle = [];
    private readonly Dictionary<(string Mode, int N), double> _settle = [];
    private readonly Dictionary<(string Mode, int N), (double Seconds, double LastRoundJit)> _warm = [];
    private readonly List<string> _notes = [];

    public async Task RunAsync()
    {
        string help = RunCapture("dotnet", [dll, "gateway", "--help"]) ?? string.Empty;
        if (!help.Contains("Cluster:Routing", StringComparison.Ordinal))
        {
            _notes.Add("`push gateway --help` of this build does not list Cluster:Routing: if the build ignores the option, the mesh row is the design that sends every group push to every gateway (the nats row is checked: the gateways must connect to the nats-server)");
        }
        foreach (string mode in o.RoutingModes)
        {
            NatsServer? nats = null;
            try
            {
                List<string> sets;
                if (mode == "nats")
                {
                    (nats, string? why) = NatsServer.TryStart(work);
                    if (nats is null)
                    {
                        foreach (int n in o.GatewayCounts)
                        {
                            SetAll(mode, n, "not available: " + why);
                        }
                        continue;
                    }
                    sets = ["Cluster:Routing=nats", $"Cluster:NatsUrl={nats.Url}"];
                }
                else
                {
                    sets = ["Cluster:Routing=" + mode];
                }
                foreach (int n in o.GatewayCounts)
                {
                    Console.Error.WriteLine($"[cluster] {mode}, {n} gateway(s)... (t={Scenarios.Elapsed.Elapsed.TotalSeconds:0.0} s)");
                    try
                    {
                        await OneAsync(mode, n, sets, nats).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
                    {
                        SetAll(mode, n, "not available: " + Short(ex.Message));
                    }
                    catch (Exception ex) when (ex is IOException or Grpc.Core.RpcException or SocketException)
                    {
                        SetAll(mode, n, "error: " + Short(ex.Message));
                    }
                    foreach (string placement in Placements)
                    {
                        Console.Error.WriteLine($"  [cluster] {mode}, {n}, {placement}: {_cells.GetValueOrDefault((mode, n, placement))}");
                    }
                }
            }
            finally
            {
                nats?.Dispose();
            }
        }
    }

    private void SetAll(string mode, int n, string cell)
    {
        foreach (string placement in Placements)
        {
            _cells.TryAdd((mode, n, placement), cell);
        }
    }

    private static string Short(string s)
    {
        s = s.ReplaceLineEndings(" ").Replace('|', '/');
        return s.Length > 220 ? s[..220] + "…" : s;
    }

    private async Task OneAsync(string mode, int n, List<string> sets, NatsServer? nats)
    {
        var hosts = Enumerable.Range(0, n).Select(i => BenchCluster.Host(62 + i)).ToList();
        using var cluster = await BenchCluster.StartAsync(dll, work, $"cluster-{mode}-{n}", BenchCluster.Host(60), BenchCluster.Host(61), hosts, sets, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        if (nats is not null && nats.Connections() is int natsConns && natsConns < n)
        {
            throw new InvalidOperationException($"the gateways did not connect to the nats-server ({natsConns} of {n} connections): this build ignores Cluster:Routing=nats");
        }
        using var pool = new ClientPool();
        int clients = o.ClusterClients;
        int groups = Math.Max(1, clients / GroupSize);
        await pool.ConnectAsync(cluster.Gateways[0].WsEndPoint, clients, 32, 2, o.SourceAddresses, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        if (pool.Conns.Count < clients)
        {
            throw new IOException($"{pool.Conns.Count} of {clients} clients connected: {pool.FirstError}");
        }
        var conns = pool.Conns;
        var gw1 = cluster.Controls[0];
        var (_, jerr, jfirst) = await Scenarios.InFlightAsync(conns.Count, 32, i => gw1.JoinGroupAsync(new JoinGroupRequest { ClientId = conns[i].ClientId, Group = Room(i / GroupSize) }, BenchCluster.Auth).ResponseAsync).ConfigureAwait(false);
        if (jerr > 0)
        {
            throw new IOException($"{jerr} JoinGroup calls failed: {jfirst}");
        }
        var others = n == 1 ? cluster.Controls : cluster.Controls.Skip(1).ToList();
        var pids = cluster.Gateways.Select(g => g.Pid).Concat(nats is null ? [] : [nats.Pid]).ToArray();
        await ProbeAsync(pool, others, groups).ConfigureAwait(false);

        // Warm-up: both placements' calls for a while (the JIT's tier-up of the push and forward paths in every
        // process), then until the processes are quiet: otherwise N gateways' background JIT lands in the N-gateway
        // figures (seen: 8 fresh gateways burn ~1.5 cores for tens of seconds on a loaded 2-core machine).
        foreach (var pushers in new[] { [gw1], others })
        {
            await Scenarios.InFlightAsync(int.MaxValue, 64, i => pushers[i % pushers.Count].SendToGroupAsync(new SendToGroupRequest { Groups = { Room(i % groups) }, Text = Payload.Now(i) }, BenchCluster.Auth).ResponseAsync,
                Stopwatch.GetTimestamp() + (2 * Stopwatch.Frequency)).ConfigureAwait(false);
        }
        // Then rounds of both placements (1 s each) until the tier-up JIT under those calls is done: a round in which
        // the runtimes' background compiler threads (".NET Tiered Com") of all the gateways used at most 10 ms of CPU
        // (up to 60 s). Without it (2 s per placement only) 20-30 % of gateway 1's CPU in a measured cell was that JIT
        // (perf, 2026-12-02) and the rest ran partly in tier-0 and instrumented (PGO) code: CPU per call 2-3 times the
        // warm figure, and the more gateways (the forwarders share the calls), the longer the tier-up takes.
        var warm = Stopwatch.StartNew();
        double jitLeft = double.NaN;
        while (warm.Elapsed < TimeSpan.FromSeconds(60))
        {
            var jit0 = JitThreads(pids);
            foreach (var pushers in new[] { [gw1], others })
            {
                await Scenarios.InFlightAsync(int.MaxValue, 64, i => pushers[i % pushers.Count].SendToGroupAsync(new SendToGroupRequest { Groups = { Room(i % groups) }, Text = Payload.Now(i) }, BenchCluster.Auth).ResponseAsync,
                    Stopwatch.GetTimestamp() + Stopwatch.Frequency).ConfigureAwait(false);
            }
            jitLeft = JitSince(jit0, pids);
            if (jitLeft <= 0.010)
            {
                break;
            }
        }
        _warm[(mode, n)] = (warm.Elapsed.TotalSeconds, jitLeft);
        await WaitQuietAsync(pool, pids, mode, n).ConfigureAwait(false);

        // Idle: the N gateways (and nats-server) with their clients and groups, no calls.
        var c = CultureInfo.InvariantCulture;
        double cpu0 = CpuSeconds(pids);
        long i0 = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        _idle[(mode, n)] = (100 * (CpuSeconds(pids) - cpu0) / Stopwatch.GetElapsedTime(i0).TotalSeconds).ToString("0.0", c) + " % of a core";

        foreach (string placement in Placements)
        {
            if (n == 1 && placement == "forward")
            {
                _cells[(mode, n, placement)] = _cells[(mode, n, "member")] + " (same: one gateway)";
                _rates[(mode, n, placement)] = _rates[(mode, n, "member")];
                continue;
            }
            var pushers = placement == "member" ? [gw1] : others;
            pool.ResetCounters();
            var h = new Histogram();
            pool.Sink = new LatencySink(h);
            long asked = 0;
            double cpuStart = CpuSeconds(pids);
            double gw1Start = CpuSeconds([pids[0]]);
            var jitStart = JitThreads(pids);
            long t0 = Stopwatch.GetTimestamp();
            long deadline = t0 + (long)(o.ClusterSeconds * Stopwatch.Frequency);
            Console.Error.WriteLine($"  [cluster] {mode}, {n}, {placement}: measuring {o.ClusterSeconds:0.#} s (gateway pids {string.Join(' ', pids)})");
            var (ok, errors, first) = await Scenarios.InFlightAsync(int.MaxValue, 64, async i =>
            {
                var r = await pushers[i % pushers.Count].SendToGroupAsync(new SendToGroupRequest { Groups = { Room(i % groups) }, Text = Payload.Now(i) }, BenchCluster.Auth).ResponseAsync.ConfigureAwait(false);
                Interlocked.Add(ref asked, r.Reach?.GatewaysAsked ?? 0);
            }, deadline).ConfigureAwait(false);
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            double cpu = CpuSeconds(pids) - cpuStart;
            double gw1Cpu = CpuSeconds([pids[0]]) - gw1Start;
            double jit = JitSince(jitStart, pids);
            long received = await WaitAsync(pool, ok * GroupSize, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            pool.Sink = null;
            double rate = ok / seconds;
            _rates[(mode, n, placement)] = rate;
            string perCall = ok > 0 ? $", asked {((double)asked / ok).ToString("0.00", c)}/call, {(cpu * 1e6 / ok).ToString("N0", c)} µs CPU/call{(n > 1 ? $" of which gateway 1 {(gw1Cpu * 1e6 / ok).ToString("N0", c)}" : "")}, JIT {(jit * 1e3).ToString("N0", c)} ms" : "";
            _cells[(mode, n, placement)] = $"{rate.ToString("N0", c)} calls/s (lost {(ok * GroupSize) - received}, p99 {(h.Percentile(99) / 1000.0).ToString("0.0", c)} ms{perCall}{(errors > 0 ? $", {errors} failed: {first}" : "")})";
        }
    }

    // Until one round (a push per group through every pushing gateway) reaches every member: interest may take a moment to spread.
    private static async Task ProbeAsync(ClientPool pool, List<GatewayService.GatewayServiceClient> pushers, int groups)
    {
        var probe = Stopwatch.StartNew();
        while (true)
        {
            pool.ResetCounters();
            pool.Sink = new LatencySink(new Histogram());
            int calls = groups * pushers.Count;
            await Scenarios.InFlightAsync(calls, 16, i => pushers[i % pushers.Count].SendToGroupAsync(new SendToGroupRequest { Groups = { Room(i / pushers.Count) }, Text = Payload.Now(i) }, BenchCluster.Auth).ResponseAsync).ConfigureAwait(false);
            long want = (long)calls * GroupSize;
            long got = await WaitAsync(pool, want, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            if (got >= want)
            {
                return;
            }
            if (probe.Elapsed > TimeSpan.FromSeconds(15))
            {
                throw new IOException($"group pushes through the other gateways reach {got} of {want} members after 15 s");
            }
        }
    }

    // Until a second in which the processes use at most 4 % of a core each (or 40 s): the warm-up's JIT is done.
    private async Task WaitQuietAsync(ClientPool pool, int[] pids, string mode, int n)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(40))
        {
            double before = CpuSeconds(pids);
            await Task.Delay(1000).ConfigureAwait(false);
            if (CpuSeconds(pids) - before <= 0.04 * pids.Length)
            {
                break;
            }
        }
        pool.ResetCounters();
        _settle[(mode, n)] = sw.Elapsed.TotalSeconds;
    }

    // User + system CPU time of each of the runtimes' background JIT threads (".NET Tiered Com", the tier-up compiler)
    // of the processes, by process and thread id (Linux /proc; empty elsewhere), in seconds. The runtime ends that
    // thread when it has nothing to compile and starts a new one later: compare two readings with JitSince.
    private static Dictionary<(int Pid, string Tid), double> JitThreads(int[] pids)
    {
        var threads = new Dictionary<(int, string), double>();
        foreach (int pid in pids)
        {
            try
            {
                foreach (string task in Directory.EnumerateDirectories($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/task"))
                {
                    string stat = File.ReadAllText(Path.Combine(task, "stat"));
                    int open = stat.IndexOf('(', StringComparison.Ordinal);
                    int close = stat.LastIndexOf(')');
                    if (open < 0 || close < open || !stat.AsSpan(open + 1, close - open - 1).StartsWith(".NET Tiered", StringComparison.Ordinal))
                    {
                        continue;
                    }
                    string[] f = stat[(close + 2)..].Split(' ');
                    threads[(pid, Path.GetFileName(task))] = (long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) / 100.0;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                // not Linux, or the process (or thread) is gone: not counted
            }
        }
        return threads;
    }

    // JIT-thread CPU since `before`: threads still there count their growth, new ones all of theirs; a thread that
    // ended in between loses its last part (so this is a lower bound).
    private static double JitSince(Dictionary<(int Pid, string Tid), double> before, int[] pids)
    {
        double total = 0;
        foreach (var (key, cpu) in JitThreads(pids))
        {
            total += cpu - before.GetValueOrDefault(key);
        }
        return total;
    }

    // User + system CPU time of the processes (Linux /proc; 0 elsewhere), in seconds.
    private static double CpuSeconds(int[] pids)
    {
        double total = 0;
        foreach (int pid in pids)
        {
            try
            {
                string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
                string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                total += (long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) / 100.0;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                // not Linux, or the process is gone: its CPU is not counted
            }
        }
        return total;
    }

    private static string Room(int i) => "room" + i.ToString(CultureInfo.InvariantCulture);

    private static async Task<long> WaitAsync(ClientPool pool, long expected, TimeSpan quiet)
    {
        long last = -1;
        var changed = Stopwatch.StartNew();
        while (true)
        {
            long got = pool.TotalReceived();
            if (got >= expected)
            {
                return got;
            }
            if (got != last)
            {
                last = got;
                changed.Restart();
            }
            else if (changed.Elapsed > quiet)
            {
                return got;
            }
            await Task.Delay(5).ConfigureAwait(false);
        }
    }

    private static string? RunCapture(string file, string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in args)
            {
                info.ArgumentList.Add(a);
            }
            using var p = Process.Start(info);
            if (p is null)
            {
                return null;
            }
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit(30_000);
            return output + err.Result;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>The section of the report: per mode and placement, calls/s per gateway count and the ratios to 1 gateway.</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var counts = o.GatewayCounts;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"### Cluster routing: SendToGroup, {o.ClusterClients:N0} clients in {Math.Max(1, o.ClusterClients / GroupSize)} groups of {GroupSize} on gateway 1, 64 calls in flight, {o.ClusterSeconds:0.#} s per cell");
        sb.AppendLine();
        sb.AppendLine("Placement *member*: every call through gateway 1 (where the members are). Placement *forward*: calls through the other gateways in turn (gateway 1 when there is one), so every call is forwarded once to gateway 1. *asked/call*: ClusterReach.gateways_asked per answer (the gateway called counts itself). *CPU/call*: user + system CPU of all the gateway processes (and the nats-server) per call. *JIT*: CPU of the gateways' background (tier-up) JIT threads during the cell.");
        sb.AppendLine();
        sb.Append("| routing | placement |");
        foreach (int n in counts)
        {
            sb.Append(c, $" {n} gateway{(n == 1 ? "" : "s")} |");
        }
        foreach (int n in counts.Where(n => n != counts[0]))
        {
            sb.Append(c, $" {n} ÷ {counts[0]} |");
        }
        sb.AppendLine();
        sb.Append("|---|---|");
        sb.Append(string.Concat(Enumerable.Repeat("---:|", counts.Count + counts.Count(n => n != counts[0]))));
        sb.AppendLine();
        foreach (string mode in o.RoutingModes)
        {
            string label = mode == "mesh" ? "mesh (`--set Cluster:Routing=mesh`)" : mode == "nats" ? "NATS (`--set Cluster:Routing=nats`, nats-server on loopback)" : mode;
            foreach (string placement in Placements)
            {
                sb.Append(c, $"| {label} | {(placement == "member" ? "member: through gateway 1" : "forward: through the others")} |");
                foreach (int n in counts)
                {
                    sb.Append(c, $" {(_cells.TryGetValue((mode, n, placement), out var cell) ? cell : "—")} |");
                }
                foreach (int n in counts.Where(n => n != counts[0]))
                {
                    sb.Append(_rates.TryGetValue((mode, n, placement), out var r) && _rates.TryGetValue((mode, counts[0], placement), out var one) && one > 0
                        ? " " + (r / one).ToString("0.00", c) + " |" : " — |");
                }
                sb.AppendLine();
            }
        }
        sb.AppendLine();
        sb.Append("Before measuring, each cell's cluster runs both placements' calls for 2 s each (warm-up), then 1 s each in rounds until a round in which the gateways' background JIT threads used at most 10 ms of CPU (up to 60 s), and then waits for a second in which the gateways use at most 4 % of a core each (up to 40 s). Warm-up after the first 4 s:");
        foreach (var ((mode, n), (seconds, last)) in _warm)
        {
            sb.Append(c, $" {mode} {n}: {seconds:0} s (JIT in the last round {last * 1e3:0} ms);");
        }
        sb.Append(" Idle (clients connected and joined, no calls, 3 s after that), CPU of all the gateways (and nats-server):");
        foreach (string mode in o.RoutingModes)
        {
            foreach (int n in counts)
            {
                if (_idle.TryGetValue((mode, n), out var idle))
                {
                    sb.Append(c, $" {mode} {n}: {idle} (quiet {_settle.GetValueOrDefault((mode, n)):0} s after the warm-up);");
                }
            }
        }
        sb.AppendLine();
        foreach (string note in _notes)
        {
            sb.AppendLine().Append("- ").AppendLine(note);
        }
        return sb.ToString();
    }
}
