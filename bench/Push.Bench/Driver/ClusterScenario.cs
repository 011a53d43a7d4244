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
/// gateway 1; SendToGroup with 64 in flight through the other gateways in turn (gateway 1 when N = 1). For each
/// routing mode (Cluster:Routing=mesh, and nats with a nats-server started here) and N: calls/s, lost, p99; then
/// the N-gateway / 1-gateway ratio. A mode the gateways refuse, or (nats) that never connects to the nats-server,
/// gets a "not available" cell instead of a figure.
/// </summary>
public sealed class ClusterScenario(Options o, string dll, string work)
{
    private const int GroupSize = 10;

    private readonly Dictionary<(string Mode, int N), string> _cells = [];
    private readonly Dictionary<(string Mode, int N), double> _rates = [];
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
                            _cells[(mode, n)] = "not available: " + why;
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
                        _cells[(mode, n)] = "not available: " + Short(ex.Message);
                    }
                    catch (Exception ex) when (ex is IOException or Grpc.Core.RpcException or SocketException)
                    {
                        _cells[(mode, n)] = "error: " + Short(ex.Message);
                    }
                    Console.Error.WriteLine($"  [cluster] {mode}, {n}: {_cells[(mode, n)]}");
                }
            }
            finally
            {
                nats?.Dispose();
            }
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
        var pushers = n == 1 ? cluster.Controls : cluster.Controls.Skip(1).ToList();

        // Until one round (a push per group through every pushing gateway) reaches every member: interest may take a moment to spread.
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
                break;
            }
            if (probe.Elapsed > TimeSpan.FromSeconds(15))
            {
                throw new IOException($"group pushes through the other gateways reach {got} of {want} members after 15 s");
            }
        }

        pool.ResetCounters();
        var h = new Histogram();
        var sink = new LatencySink(h);
        pool.Sink = sink;
        long t0 = Stopwatch.GetTimestamp();
        long deadline = t0 + (long)(o.ClusterSeconds * Stopwatch.Frequency);
        var (ok, errors, first) = await Scenarios.InFlightAsync(int.MaxValue, 64, i => pushers[i % pushers.Count].SendToGroupAsync(
            new SendToGroupRequest { Groups = { Room(i % groups) }, Text = Payload.Now(i) }, BenchCluster.Auth).ResponseAsync, deadline).ConfigureAwait(false);
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        long received = await WaitAsync(pool, ok * GroupSize, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        pool.Sink = null;
        double rate = ok / seconds;
        _rates[(mode, n)] = rate;
        var c = CultureInfo.InvariantCulture;
        _cells[(mode, n)] = $"{rate.ToString("N0", c)} calls/s (lost {(ok * GroupSize) - received}, p99 {(h.Percentile(99) / 1000.0).ToString("0.0", c)} ms{(errors > 0 ? $", {errors} failed: {first}" : "")})";
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

    /// <summary>The section of the report: calls/s per mode and gateway count, and the ratios to 1 gateway.</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var counts = o.GatewayCounts;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"### Cluster routing: SendToGroup, {o.ClusterClients:N0} clients in {Math.Max(1, o.ClusterClients / GroupSize)} groups of {GroupSize} on gateway 1, 64 calls in flight through the other gateways, {o.ClusterSeconds:0.#} s");
        sb.AppendLine();
        sb.Append("| routing |");
        foreach (int n in counts)
        {
            sb.Append(c, $" {n} gateway{(n == 1 ? "" : "s")} |");
        }
        foreach (int n in counts.Where(n => n != counts[0]))
        {
            sb.Append(c, $" {n} ÷ {counts[0]} |");
        }
        sb.AppendLine();
        sb.Append("|---|");
        sb.Append(string.Concat(Enumerable.Repeat("---:|", counts.Count + counts.Count(n => n != counts[0]))));
        sb.AppendLine();
        foreach (string mode in o.RoutingModes)
        {
            string label = mode == "mesh" ? "mesh (`--set Cluster:Routing=mesh`)" : mode == "nats" ? "NATS (`--set Cluster:Routing=nats`, nats-server on loopback)" : mode;
            sb.Append(c, $"| {label} |");
            foreach (int n in counts)
            {
                sb.Append(c, $" {(_cells.TryGetValue((mode, n), out var cell) ? cell : "—")} |");
            }
            foreach (int n in counts.Where(n => n != counts[0]))
            {
                sb.Append(_rates.TryGetValue((mode, n), out var r) && _rates.TryGetValue((mode, counts[0]), out var one) && one > 0
                    ? " " + (r / one).ToString("0.00", c) + " |" : " — |");
            }
            sb.AppendLine();
        }
        foreach (string note in _notes)
        {
            sb.AppendLine().Append("- ").AppendLine(note);
        }
        return sb.ToString();
    }
}
