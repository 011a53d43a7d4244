using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Push.Bench.Baseline;
using Push.Bench.Driver;
using Push.Bench.Load;

namespace Push.Bench;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        try
        {
            return args.FirstOrDefault() switch
            {
                "baseline" => await BaselineServer.RunAsync(Arg(args, "--ready-file") ?? throw new ArgumentException("baseline needs --ready-file FILE")).ConfigureAwait(false),
                "limit" => await Limit.LimitServer.RunAsync(Arg(args, "--ready-file") ?? throw new ArgumentException("limit needs --ready-file FILE")).ConfigureAwait(false),
                "clients" => await ClientsChildAsync(args).ConfigureAwait(false),
                "tokens" => await Tokens.TokenValidationBench.RunAsync(args).ConfigureAwait(false),
                "gc" => await InduceGcAsync(args).ConfigureAwait(false),
                _ => await DriverAsync(Options.Parse(args)).ConfigureAwait(false),
            };
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 64;
        }
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>`gc --pid N`: a full blocking GC in process N (as the idle readings do); prints the live heap and the RSS after it.</summary>
    private static async Task<int> InduceGcAsync(string[] args)
    {
        int pid = int.Parse(Arg(args, "--pid") ?? throw new ArgumentException("gc needs --pid N"), CultureInfo.InvariantCulture);
        string? heap = null;
        long? live = await ProcStats.InduceGcAsync(pid, d => heap = d).ConfigureAwait(false);
        long rss = await ProcStats.SettledRssKb(pid, TimeSpan.FromSeconds(6)).ConfigureAwait(false);
        Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?> { ["live"] = live, ["rssKb"] = rss, ["heap"] = heap }));
        return live is null ? 1 : 0;
    }

    /// <summary>
    /// A load-generator child: opens --count connections, prints one JSON line
    /// with the outcome, holds them until its standard input closes.
    /// </summary>
    private static async Task<int> ClientsChildAsync(string[] args)
    {
        var ws = new Uri(Arg(args, "--ws") ?? throw new ArgumentException("clients needs --ws URL"));
        int count = int.Parse(Arg(args, "--count") ?? "1000", CultureInfo.InvariantCulture);
        int srcFrom = int.Parse(Arg(args, "--src-from") ?? "10", CultureInfo.InvariantCulture);
        int srcCount = int.Parse(Arg(args, "--src-count") ?? "8", CultureInfo.InvariantCulture);
        int concurrency = int.Parse(Arg(args, "--concurrency") ?? "64", CultureInfo.InvariantCulture);
        int timeout = int.Parse(Arg(args, "--timeout") ?? "100", CultureInfo.InvariantCulture);
        using var pool = new ClientPool();
        await pool.ConnectAsync(new IPEndPoint(IPAddress.Parse(ws.Host), ws.Port), count, concurrency, srcFrom, srcCount, TimeSpan.FromSeconds(timeout)).ConfigureAwait(false);
        var result = new Dictionary<string, object?>
        {
            ["connected"] = pool.Conns.Count,
            ["failed"] = pool.Failed,
            ["seconds"] = pool.ConnectSeconds,
            ["error"] = pool.FirstError,
        };
        Console.Out.WriteLine(JsonSerializer.Serialize(result));
        Console.Out.Flush();
        // Hold the connections until the driver closes our input (bounded: 30 minutes). Commands, one per line:
        //   reset      count timed messages from now on (latency histogram too)
        //   count      print {"received":N,"lastTicks":T,"p50":us,"p99":us,"open":N}
        //   ids N      print {"ids":[...]} with the first N client ids
        var histogram = new Histogram();
        var read = Task.Run(() =>
        {
            try
            {
                while (Console.In.ReadLine() is { } line)
                {
                    string[] words = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    switch (words.FirstOrDefault())
                    {
                        case "reset":
                            pool.ResetCounters();
                            histogram = new Histogram();
                            pool.Sink = new Driver.LatencySink(histogram);
                            Reply(new Dictionary<string, object?> { ["reset"] = true });
                            break;
                        case "count":
                            Reply(new Dictionary<string, object?>
                            {
                                ["received"] = pool.TotalReceived(),
                                ["lastTicks"] = (pool.Sink as Driver.LatencySink)?.LastTicks ?? 0,
                                ["p50"] = histogram.Percentile(50),
                                ["p99"] = histogram.Percentile(99),
                                ["open"] = pool.OpenCount(),
                            });
                            break;
                        case "ids":
                            int n = words.Length > 1 ? int.Parse(words[1], CultureInfo.InvariantCulture) : pool.Conns.Count;
                            Reply(new Dictionary<string, object?> { ["ids"] = pool.Conns.Take(n).Select(c => c.ClientId).ToArray() });
                            break;
                        default:
                            break;
                    }
                }
            }
            catch (IOException)
            {
            }
        });
        await Task.WhenAny(read, Task.Delay(TimeSpan.FromMinutes(30))).ConfigureAwait(false);
        return 0;
    }

    private static void Reply(Dictionary<string, object?> answer)
    {
        lock (Console.Out)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(answer));
            Console.Out.Flush();
        }
    }

    private static async Task<int> DriverAsync(Options o)
    {
        var total = Stopwatch.StartNew();
        _ = Scenarios.Elapsed; // progress lines count from here
        string work = Path.Combine(Path.GetTempPath(), $"push-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        var report = new Report();
        NodeBackend? node = null;
        string nodeNote = string.Empty;
        if (!o.SkipActive && !o.ClusterOnly && !o.EchoOnly && o.Scale == 0)
        {
            (node, nodeNote) = NodeBackend.TryStart(FindRepoRoot());
            report.Note(node is null
                ? $"Node backend not available ({nodeNote}): the unary fan-out calls are made by the driver (C#, 32 in flight)"
                : $"unary fan-out calls: {node.Description}, bench/node/publisher.js, 32 in flight; its CPU is in the fan-out rows' measuring-side CPU (it idles while the limit's one-call bursts run)");
        }
        using var nodeScope = node;
        var bench = new Scenarios(o, report, node, nodeNote);

        // Watchdog: the whole run is bounded; past the limit every child is killed.
        using var watchdog = new Timer(_ =>
        {
            Console.Error.WriteLine($"watchdog: the run exceeded {o.MaxMinutes} minutes; killing every child process");
            Children.KillAll();
            Environment.Exit(3);
        }, null, TimeSpan.FromMinutes(o.MaxMinutes), Timeout.InfiniteTimeSpan);

        try
        {
            string machine = Machine.Describe();
            Console.Error.WriteLine(machine);

            // The baseline runs with the GC mode the suite's runtimeconfig asks for, so that memory compares like with like.
            // Defaults: those of the bench executable's own runtimeconfig.
            bool gcServer = System.Runtime.GCSettings.IsServerGC;
            bool gcConcurrent = System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.Batch;
            int baselineStarts = 0;
            ServerFactory baseline = purpose =>
            {
                string name = $"baseline-{purpose}-{++baselineStarts}";
                var info = Children.Self(["baseline", "--ready-file", Path.Combine(work, name + ".json")]);
                info.Environment["DOTNET_gcServer"] = gcServer ? "1" : "0";
                info.Environment["DOTNET_gcConcurrent"] = gcConcurrent ? "1" : "0";
                return ServerProcess.StartAsync("baseline", info, Path.Combine(work, name + ".json"), Path.Combine(work, name + ".log"), TimeSpan.FromSeconds(30));
            };

            int limitStarts = 0;
            ServerFactory limit = purpose =>
            {
                string name = $"limit-{purpose}-{++limitStarts}";
                var info = Children.Self(["limit", "--ready-file", Path.Combine(work, name + ".json")]);
                info.Environment["DOTNET_gcServer"] = gcServer ? "1" : "0";
                info.Environment["DOTNET_gcConcurrent"] = gcConcurrent ? "1" : "0";
                return ServerProcess.StartAsync("limit", info, Path.Combine(work, name + ".json"), Path.Combine(work, name + ".log"), TimeSpan.FromSeconds(30));
            };

            var (suite, suiteLabel, suiteNote, suiteGc, suiteDll) = ResolveSuite(o, work, baseline);
            gcServer = suiteGc.Server ?? gcServer;
            gcConcurrent = suiteGc.Concurrent ?? gcConcurrent;
            string baselineLabel = $"baseline (Kestrel, {Machine.DescribeGc(gcServer, gcConcurrent)} GC)";
            string limitLabel = o.NoLimit ? "limit (skipped)" : $"limit (hand-written Kestrel broadcaster, {Machine.DescribeGc(gcServer, gcConcurrent)} GC)";
            if (suiteNote is not null)
            {
                Console.Error.WriteLine(suiteNote);
                report.Note(suiteNote);
            }

            if (o.BaselineSuite is not null)
            {
                // An A/B of two builds in one run: the baseline column is `push start` of the other push.dll.
                string other = Path.GetFullPath(o.BaselineSuite);
                if (!File.Exists(other))
                {
                    throw new ArgumentException($"--baseline-suite {other}: not found");
                }
                baseline = SuiteFactory(other, work, "suite-b");
                baselineLabel = $"baseline = push start of {other}";
                report.Note($"--baseline-suite: the baseline column is `push start` of {other} (suite/baseline compares the two builds)");
            }
            var columns = new List<(string Column, ServerFactory Start)>();
            if (!o.NoBaseline)
            {
                columns.Add((Report.Baseline, baseline));
            }
            if (!o.NoLimit)
            {
                columns.Add((Report.Limit, limit));
            }
            if (suite is not null)
            {
                columns.Add((Report.Suite, suite));
            }

            bool main = !o.ClusterOnly && o.Scale == 0;
            if (main && !o.SkipActive)
            {
                await bench.ActiveAsync(columns).ConfigureAwait(false);
            }
            foreach (var (column, start) in columns)
            {
                if (main && !o.SkipIdle)
                {
                    try
                    {
                        await bench.IdleAsync(column, start).ConfigureAwait(false);
                    }
                    catch (Exception ex)
                    {
                        report.Fail("idle scenarios", column, ex.GetType().Name + ": " + ex.Message);
                    }
                }
            }

            string sections = string.Empty;
            bool clusterRuns = o.Cluster && (o.ClusterOnly || (o.Scale == 0 && !o.SkipActive));
            if (clusterRuns || o.Scale > 0)
            {
                if (suiteDll is null)
                {
                    report.Note("cluster and scale scenarios: skipped (they need a push.dll: no --suite baseline/none)");
                }
                else
                {
                    if (clusterRuns)
                    {
                        var cluster = new ClusterScenario(o, suiteDll, work);
                        await cluster.RunAsync().ConfigureAwait(false);
                        sections += "\n" + cluster.ToMarkdown();
                    }
                    if (o.Scale > 0)
                    {
                        var scale = new ScaleScenario(o, suiteDll, work);
                        await scale.RunAsync().ConfigureAwait(false);
                        sections += "\n" + scale.ToMarkdown();
                    }
                }
            }
            report.Note($"run took {total.Elapsed.TotalSeconds:0} s; load average at the end: {Machine.LoadAverage()}; server logs and ready files in {work}");
            string md = $"""
                # Push.Bench results ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC{(o.Quick ? ", --quick" : "")})

                {machine}
                Parameters: {o.Clients:N0} clients, {o.Messages:N0} messages × {o.Bursts} bursts, {o.Idle:N0} idle connections, {o.Duration:0.#} s timed runs, {o.Rate:N0}/s paced pushes, {o.EchoClients:N0} echo clients, batches of {o.BatchSize}, {o.SourceAddresses} source addresses per process.

                {report.ToMarkdown(suiteLabel, baselineLabel, limitLabel)}{sections}
                """;
            if (o.Chart is not null)
            {
                string chartTitle = $"Push.Bench {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC{(o.Quick ? " (--quick)" : "")}: {o.Clients:N0} clients × {o.Messages:N0} × 64 B, {o.Idle:N0} idle, {o.EchoClients:N0} echo clients";
                try
                {
                    await File.WriteAllTextAsync(o.Chart, Chart.Svg(report, chartTitle)).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // A wrong chart path must not cost the run's figures: the report is still printed and written.
                    Console.Error.WriteLine($"--chart {o.Chart}: {ex.Message}");
                    Console.Out.WriteLine(md);
                    if (o.Out is not null)
                    {
                        await File.WriteAllTextAsync(o.Out, md).ConfigureAwait(false);
                    }
                    return 1;
                }
                string link = o.Out is null ? Path.GetFullPath(o.Chart) : Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(o.Out))!, Path.GetFullPath(o.Chart));
                md += $"\n![headline figures: suite, baseline and limit]({link.Replace('\\', '/')})\n";
            }
            Console.Out.WriteLine(md);
            if (o.Out is not null)
            {
                await File.WriteAllTextAsync(o.Out, md).ConfigureAwait(false);
            }
            return 0;
        }
        finally
        {
            Children.KillAll();
        }
    }

    private static (ServerFactory? Start, string Label, string? Note, (bool? Server, bool? Concurrent) Gc, string? Dll) ResolveSuite(Options o, string work, ServerFactory baseline)
    {
        if (o.Suite == "none")
        {
            return (null, "suite", "suite: skipped (--suite none)", default, null);
        }
        if (o.Suite == "baseline")
        {
            return (baseline, "suite = baseline again", "--suite baseline: the suite column is a second baseline server (the ratios show run-to-run noise)", default, null);
        }
        string? dll = o.Suite;
        if (dll is null)
        {
            string? root = FindRepoRoot();
            string? project = root is null ? null : Path.Combine(root, "services", "Push.Cli", "Push.Cli.csproj");
            if (project is null || !File.Exists(project))
            {
                return (null, "suite", "suite: services/Push.Cli not found; pass --suite PATH_TO_push.dll (or --suite baseline to compare the baseline with itself)", default, null);
            }
            Console.Error.WriteLine("building services/Push.Cli (Release)...");
            var build = Process.Start(new ProcessStartInfo("dotnet", ["build", project, "-c", "Release", "--nologo", "-v", "q", "-clp:ErrorsOnly"]) { UseShellExecute = false })!;
            if (!build.WaitForExit(TimeSpan.FromMinutes(5)) || build.ExitCode != 0)
            {
                return (null, "suite", "suite: building services/Push.Cli failed; pass --suite PATH_TO_push.dll", default, null);
            }
            dll = Path.Combine(root!, "services", "Push.Cli", "bin", "Release", "net10.0", "push.dll");
        }
        if (!File.Exists(dll))
        {
            return (null, "suite", $"suite: {dll} not found", default, null);
        }
        dll = Path.GetFullPath(dll);
        var gc = Machine.GcOf(Path.ChangeExtension(dll, ".runtimeconfig.json"));
        string gcText = Machine.DescribeGc(gc.Server ?? false, gc.Concurrent ?? true);
        return (SuiteFactory(dll, work, "suite"), $"suite (push start, {gcText} GC)", $"suite: {dll} (GC from its runtimeconfig: {gcText}; the baseline and the limit are started with the same settings)", gc, dll);
    }

    /// <summary>Starts `push start` of <paramref name="dll"/> (the suite column, or the baseline column's other build with --baseline-suite).</summary>
    private static ServerFactory SuiteFactory(string dll, string work, string name)
    {
        return purpose =>
        {
            string ready = Path.Combine(work, $"{name}-{purpose}.json");
            // Through a small sh wrapper that kills `push start` when the driver's end of its
            // standard input closes, so that the suite never outlives the driver, even on SIGKILL.
            var info = new ProcessStartInfo("/bin/sh") { WorkingDirectory = work };
            foreach (string a in new[] { "-c", SuiteWrapper, "push-bench-suite", "dotnet", dll, "start", "--ws", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--api", "127.0.0.1:0", "--ready-file", ready })
            {
                info.ArgumentList.Add(a);
            }
            info.Environment["Logging__LogLevel__Default"] = "Warning";
            return StartSuiteAsync(info, ready, Path.Combine(work, $"{name}-{purpose}.log"));
        };
    }

    internal const string SuiteWrapper = """
        exec 3<&0
        "$@" </dev/null &
        child=$!
        { while read -r _; do :; done; kill -9 "$child" 2>/dev/null; } <&3 &
        exec 3<&-
        wait "$child"
        """;

    /// <summary>
    /// Starts `push start` and waits until it can serve clients: the ready file says it listens,
    /// but the greeting a client waits for comes from the worker's OnConnect, so the gateway must
    /// also report an open worker stream (GetStatus workers_connected).
    /// </summary>
    private static async Task<ServerProcess> StartSuiteAsync(ProcessStartInfo info, string ready, string log)
    {
        var server = await ServerProcess.StartAsync("suite", info, ready, log, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        try
        {
            using var channel = Scenarios.Channel(server.Grpc);
            var gw = new Push.V1.GatewayService.GatewayServiceClient(channel);
            var sw = Stopwatch.StartNew();
            string last = "no answer";
            while (sw.Elapsed < TimeSpan.FromSeconds(30))
            {
                try
                {
                    var status = await gw.GetStatusAsync(new Push.V1.GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2)).ResponseAsync.ConfigureAwait(false);
                    if (status.Gateways.Count > 0 && status.Gateways.All(g => g.WorkersConnected > 0))
                    {
                        return server;
                    }
                    last = $"{status.Gateways.Count} gateways, workers connected: {string.Join(',', status.Gateways.Select(g => g.WorkersConnected))}";
                }
                catch (Grpc.Core.RpcException ex)
                {
                    last = ex.Status.ToString();
                }
                await Task.Delay(100).ConfigureAwait(false);
            }
            throw new TimeoutException($"suite listens but no worker stream opened within 30 s ({last}); log: {log}\n{ServerProcess.Tail(log)}");
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    private static string? FindRepoRoot()
    {
        foreach (string startDir in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(startDir); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "Directory.Packages.props")) && Directory.Exists(Path.Combine(d.FullName, "services")))
                {
                    return d.FullName;
                }
            }
        }
        return null;
    }
}
