using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Push.V1;

namespace Push.Bench.Driver;

/// <summary>
/// Many connections (<c>--scale 100000</c>): registry + ⌈N / per-gateway⌉ gateway processes + 1 worker in one
/// cluster, and one load-generator child per gateway (each under the ~20,000 files a process may open), every
/// gateway on its own 127.0.0.x address and every child on its own range of 8 source addresses, so that no
/// address/port range runs out. Reports the connect rate, RSS and live managed heap per connection of every gateway,
/// SendToAll to everyone (<c>--scale-messages</c> calls, 1 by default) and one SendToGroup to every tenth client (delivered/s and lost, counted by the children).
/// </summary>
public sealed class ScaleScenario(Options o, string dll, string work)
{
    private const int GroupEvery = 10;
    private const int GatewayHostFrom = 100;
    private const int SourceFrom = 150;
    private const int SourcesPerChild = 8;

    private readonly List<string> _lines = [];
    private readonly List<string> _perGateway = [];

    private void Line(string name, string value)
    {
        _lines.Add($"| {name} | {value} |");
        Console.Error.WriteLine($"  [scale] {name}: {value}");
    }

    public async Task RunAsync()
    {
        var c = CultureInfo.InvariantCulture;
        int gateways = (o.Scale + o.ScalePerGateway - 1) / o.ScalePerGateway;
        if (gateways > 40 || SourceFrom + (gateways * SourcesPerChild) > 254)
        {
            Line("setup", $"error: {gateways} gateways is more than this scenario spreads over 127.0.0.x");
            return;
        }
        Console.Error.WriteLine($"[scale] {o.Scale:N0} connections over {gateways} gateways... (t={Scenarios.Elapsed.Elapsed.TotalSeconds:0.0} s)");
        var hosts = Enumerable.Range(0, gateways).Select(i => BenchCluster.Host(GatewayHostFrom + i)).ToList();
        var sets = new List<string>();
        NatsServer? nats = null;
        if (o.ScaleRouting is { } routing)
        {
            sets.Add("Cluster:Routing=" + routing);
            if (routing == "nats")
            {
                (nats, string? why) = NatsServer.TryStart(work);
                if (nats is null)
                {
                    Line("routing nats", "not available: " + why);
                    return;
                }
                sets.Add("Cluster:NatsUrl=" + nats.Url);
            }
        }
        using var natsScope = nats;
        BenchCluster cluster;
        try
        {
            cluster = await BenchCluster.StartAsync(dll, work, "scale", BenchCluster.Host(98), BenchCluster.Host(99), hosts, sets, TimeSpan.FromSeconds(120)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
        {
            Line("cluster start", (o.ScaleRouting is null ? "error: " : "not available: ") + ex.Message.ReplaceLineEndings(" "));
            return;
        }
        if (nats is not null && nats.Connections() is int natsConns && natsConns < gateways)
        {
            Line("routing nats", $"not available: the gateways did not connect to the nats-server ({natsConns} of {gateways})");
            cluster.Dispose();
            return;
        }
        var children = new List<Process>();
        try
        {
            var before = new List<(long Rss, long? Live)>();
            foreach (var g in cluster.Gateways)
            {
                long? live = await ProcStats.InduceGcAsync(g.Pid).ConfigureAwait(false);
                before.Add((await ProcStats.SettledRssKb(g.Pid, TimeSpan.FromSeconds(4)).ConfigureAwait(false), live));
            }

            // One child per gateway, all connecting at once.
            var counts = new List<int>();
            int remaining = o.Scale;
            for (int k = 0; k < gateways; k++)
            {
                int count = remaining / (gateways - k);
                remaining -= count;
                counts.Add(count);
                var info = Children.Self([
                    "clients", "--ws", cluster.Gateways[k].Ws!.ToString(), "--count", count.ToString(c),
                    "--src-from", (SourceFrom + (k * SourcesPerChild)).ToString(c), "--src-count", SourcesPerChild.ToString(c),
                    "--concurrency", "64", "--timeout", "900",
                ]);
                info.RedirectStandardInput = true;
                info.RedirectStandardOutput = true;
                children.Add(Children.Start(info, null));
            }
            var results = await Task.WhenAll(children.Select(p => ReadAsync(p, TimeSpan.FromMinutes(16)))).ConfigureAwait(false);
            int connected = results.Sum(r => r.GetProperty("connected").GetInt32());
            int failed = results.Sum(r => r.GetProperty("failed").GetInt32());
            double slowest = results.Max(r => r.GetProperty("seconds").GetDouble());
            Line("connections held", $"{connected:N0} of {o.Scale:N0} over {gateways} gateways ({failed:N0} failed{FirstError(results)})");
            Line("connect rate (all children at once, 64 in flight each, until the greeting)", $"{(connected / slowest).ToString("N0", c)}/s ({slowest.ToString("0.0", c)} s)");

            double rssSum = 0;
            double liveSum = 0;
            bool liveAll = true;
            for (int k = 0; k < gateways; k++)
            {
                var g = cluster.Gateways[k];
                long? live = await ProcStats.InduceGcAsync(g.Pid).ConfigureAwait(false);
                long rss = await ProcStats.SettledRssKb(g.Pid, TimeSpan.FromSeconds(6)).ConfigureAwait(false);
                int n = results[k].GetProperty("connected").GetInt32();
                double rssPer = (rss - before[k].Rss) / (double)Math.Max(1, n);
                rssSum += (rss - before[k].Rss) * 1024.0;
                string liveText = "n/a";
                if (live is long a && before[k].Live is long b)
                {
                    liveText = ((a - b) / 1024.0 / Math.Max(1, n)).ToString("0.0", c) + " KiB";
                    liveSum += a - b;
                }
                else
                {
                    liveAll = false;
                }
                _perGateway.Add($"| gateway {k + 1} ({g.Ws!.Host}) | {n:N0} | {(rss / 1024.0).ToString("N0", c)} MiB | {rssPer.ToString("0.0", c)} KiB | {liveText} |");
            }
            Line("server RSS per connection (all gateways)", $"{(rssSum / 1024.0 / Math.Max(1, connected)).ToString("0.0", c)} KiB");
            Line("server live managed heap per connection (all gateways)", liveAll ? $"{(liveSum / 1024.0 / Math.Max(1, connected)).ToString("0.0", c)} KiB" : "n/a (no GC could be induced)");

            // SendToAll to everyone: --scale-messages calls (1 by default), 4 in flight.
            int calls = o.ScaleMessages;
            await PushOnceAsync(children, (long)connected * calls, calls == 1 ? "one SendToAll to everyone" : $"{calls} SendToAll to everyone (4 in flight)", async text =>
            {
                if (text == "warm-up")
                {
                    await cluster.Controls[0].SendToAllAsync(new SendToAllRequest { Text = text }, BenchCluster.Auth, DateTime.UtcNow.AddSeconds(60)).ResponseAsync.ConfigureAwait(false);
                    return;
                }
                await Scenarios.InFlightAsync(calls, 4, i => cluster.Controls[0].SendToAllAsync(new SendToAllRequest { Text = Load.Payload.Now(1 + i) }, BenchCluster.Auth, DateTime.UtcNow.AddSeconds(60)).ResponseAsync).ConfigureAwait(false);
            }).ConfigureAwait(false);

            // Every tenth client of every child joins one group (through its own gateway); one SendToGroup.
            int members = 0;
            for (int k = 0; k < gateways; k++)
            {
                var ids = await AskAsync(children[k], "ids " + results[k].GetProperty("connected").GetInt32().ToString(c)).ConfigureAwait(false);
                var list = ids.GetProperty("ids").EnumerateArray().Select(e => e.GetString()!).Where((_, i) => i % GroupEvery == 0).ToList();
                var gw = cluster.Controls[k];
                var (ok, _, _) = await Scenarios.InFlightAsync(list.Count, 64, i => gw.JoinGroupAsync(new JoinGroupRequest { ClientId = list[i], Group = "scale" }, BenchCluster.Auth).ResponseAsync).ConfigureAwait(false);
                members += (int)ok;
            }
            await Task.Delay(1000).ConfigureAwait(false); // interest routing (mesh/NATS) may take a moment to spread
            await PushOnceAsync(children, members, $"one SendToGroup to one group of {members:N0} (every {GroupEvery}th client, on every gateway)", text =>
                cluster.Controls[^1].SendToGroupAsync(new SendToGroupRequest { Groups = { "scale" }, Text = text }, BenchCluster.Auth, DateTime.UtcNow.AddSeconds(60)).ResponseAsync).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or TimeoutException or OperationCanceledException or Grpc.Core.RpcException or JsonException)
        {
            Line("error", ex.GetType().Name + ": " + ex.Message.ReplaceLineEndings(" "));
        }
        finally
        {
            foreach (var p in children)
            {
                try
                {
                    p.StandardInput.Close();
                }
                catch (IOException)
                {
                }
            }
            foreach (var p in children)
            {
                if (!p.WaitForExit(10_000))
                {
                    Children.Kill(p);
                }
                Children.Kill(p);
            }
            cluster.Dispose();
        }
    }

    private static string FirstError(JsonElement[] results)
    {
        string? e = results.Select(r => r.TryGetProperty("error", out var x) && x.ValueKind == JsonValueKind.String ? x.GetString() : null).FirstOrDefault(x => x is not null);
        return e is null ? string.Empty : ": " + e;
    }

    /// <summary>
    /// One untimed push first (it warms the path: the children count only timed payloads), then the timed one;
    /// waits until the children received <paramref name="expected"/> or nothing arrived for 5 s.
    /// </summary>
    private async Task PushOnceAsync(List<Process> children, long expected, string what, Func<string, Task> push)
    {
        var c = CultureInfo.InvariantCulture;
        await push("warm-up").ConfigureAwait(false);
        await Task.Delay(2000).ConfigureAwait(false);
        foreach (var p in children)
        {
            await AskAsync(p, "reset").ConfigureAwait(false);
        }
        long t0 = Stopwatch.GetTimestamp();
        await push(Load.Payload.Text(t0, 1)).ConfigureAwait(false);
        long received = 0;
        long last = -1;
        long lastTicks = 0;
        double p99 = 0;
        var changed = Stopwatch.StartNew();
        while (true)
        {
            received = 0;
            lastTicks = 0;
            p99 = 0;
            foreach (var p in children)
            {
                var r = await AskAsync(p, "count").ConfigureAwait(false);
                received += r.GetProperty("received").GetInt64();
                lastTicks = Math.Max(lastTicks, r.GetProperty("lastTicks").GetInt64());
                p99 = Math.Max(p99, r.GetProperty("p99").GetDouble());
            }
            if (received >= expected)
            {
                break;
            }
            if (received != last)
            {
                last = received;
                changed.Restart();
            }
            else if (changed.Elapsed > TimeSpan.FromSeconds(5))
            {
                break;
            }
            await Task.Delay(100).ConfigureAwait(false);
        }
        double seconds = (lastTicks - t0) / (double)Stopwatch.Frequency;
        Line($"{what}: delivered/s", seconds > 0 ? (received / seconds).ToString("N0", c) + $"/s ({received:N0} in {(seconds * 1000).ToString("0", c)} ms)" : "n/a");
        Line($"{what}: lost", (expected - received).ToString("N0", c));
        Line($"{what}: latency p99 (worst child)", (p99 / 1000.0).ToString("0.0", c) + " ms");
    }

    private static async Task<JsonElement> AskAsync(Process p, string command)
    {
        await p.StandardInput.WriteLineAsync(command).ConfigureAwait(false);
        await p.StandardInput.FlushAsync().ConfigureAwait(false);
        return await ReadAsync(p, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
    }

    private static async Task<JsonElement> ReadAsync(Process p, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            string line = await p.StandardOutput.ReadLineAsync(cts.Token).ConfigureAwait(false)
                ?? throw new IOException($"load-generator child {p.Id} exited");
            if (line.StartsWith('{'))
            {
                using var doc = JsonDocument.Parse(line);
                return doc.RootElement.Clone();
            }
        }
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"### Scale: {o.Scale:N0} connections (registry + gateways of at most {o.ScalePerGateway:N0} connections + 1 worker, one load-generator child per gateway; routing: {o.ScaleRouting ?? "the build's default"})");
        sb.AppendLine();
        sb.AppendLine("| figure | value |");
        sb.AppendLine("|---|---:|");
        foreach (string l in _lines)
        {
            sb.AppendLine(l);
        }
        if (_perGateway.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("| gateway | connections | RSS | RSS growth per connection | live managed heap per connection |");
            sb.AppendLine("|---|---:|---:|---:|---:|");
            foreach (string l in _perGateway)
            {
                sb.AppendLine(l);
            }
        }
        return sb.ToString();
    }
}
