using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Push.Bench.Load;
using Push.V1;

namespace Push.Bench.Driver;

/// <summary>The fan-out scenarios: bursts of pushes to every client, in the form of each column.</summary>
public sealed partial class Scenarios
{
    private Task<(long Ok, long Errors, string? FirstError)> UnaryBurstAsync(Target t, int burst, string? group)
    {
        int seq = burst * o.Messages;
        if (node is not null)
        {
            return node.PushAsync(t.Server.Grpc, group, o.Messages, 32, seq);
        }
        return InFlightAsync(o.Messages, 32, i => group is null
            ? t.Gw.SendToAllAsync(new SendToAllRequest { Text = Payload.Now(seq + i) }).ResponseAsync
            : t.Gw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, Text = Payload.Now(seq + i) }).ResponseAsync);
    }

    /// <summary>The burst as SendBatch calls of <see cref="Options.BatchSize"/> broadcast items, 4 in flight; returns messages, not calls.</summary>
    private async Task<(long Ok, long Errors, string? FirstError)> BatchBurstAsync(Target t, int burst)
    {
        int size = o.BatchSize;
        int calls = (o.Messages + size - 1) / size;
        long accepted = 0;
        var (_, _, first) = await InFlightAsync(calls, 4, async c =>
        {
            var req = new SendBatchRequest();
            long ticks = Stopwatch.GetTimestamp();
            for (int k = c * size; k < Math.Min(o.Messages, (c + 1) * size); k++)
            {
                req.Items.Add(new BatchItem { All = true, Text = Payload.Text(ticks, (burst * o.Messages) + k) });
            }
            await t.Gw.SendBatchAsync(req).ResponseAsync.ConfigureAwait(false);
            Interlocked.Add(ref accepted, req.Items.Count);
        }).ConfigureAwait(false);
        return (accepted, o.Messages - accepted, first);
    }

    /// <summary>The limit's form: the whole burst (M messages) in one call, every message stamped at the call.</summary>
    private async Task<(long Ok, long Errors, string? FirstError)> OneCallPerBurstAsync(Target t, int burst, string? group)
    {
        var req = new SendBatchRequest();
        long ticks = Stopwatch.GetTimestamp();
        for (int k = 0; k < o.Messages; k++)
        {
            var item = new BatchItem { Text = Payload.Text(ticks, (burst * o.Messages) + k) };
            if (group is null)
            {
                item.All = true;
            }
            else
            {
                item.Groups.Add(group);
            }
            req.Items.Add(item);
        }
        try
        {
            await t.Gw.SendBatchAsync(req).ResponseAsync.ConfigureAwait(false);
            return (o.Messages, 0, null);
        }
        catch (RpcException ex)
        {
            return (0, o.Messages, $"{ex.StatusCode}: {ex.Status.Detail}");
        }
    }

    // Calls before the warm-up bursts of a form with few calls per burst: with TieredPGO a method is optimized after
    // 30 calls at quick JIT and 30 more instrumented; 64 calls of 10 items cost 640 messages per client.
    private const int TierUpCalls = 64;
    private const int TierUpItems = 10;

    /// <summary>
    /// Bursts of <see cref="Options.Messages"/> pushes to every client; <paramref name="burstOf"/> makes one burst's
    /// calls and returns the messages accepted and refused.
    /// </summary>
    /// <param name="tierUpGroup">For <paramref name="tierUp"/>: the group of the form's pushes (null: everyone).</param>
    /// <param name="tierUp">The column makes fewer than <see cref="TierUpCalls"/> calls per burst (the limit's one call,
    /// SendBatch's five): make that many small SendBatch calls of the same target first.</param>
    private async Task FanOutAsync(Target t, string form, Func<int, Task<(long Ok, long Errors, string? FirstError)>> burstOf, bool tierUp = false, string? tierUpGroup = null)
    {
        string column = t.Column;
        var pool = t.Pool;
        int pid = t.Pid;
        var h = new Histogram();
        var rates = new List<double>();
        long lost = 0;
        long delivered = 0;
        long callErrors = 0;
        string? firstError = null;
        // Two bursts that are not measured, each followed by a wait for the server to go idle: the server's code for
        // this form (its gRPC method, the fan-out loop, the pumps) goes through its tiers of JIT compilation here
        // (with TieredPGO: quick JIT, then instrumented, then optimized, each after 30 calls), so the bursts below see
        // the steady state a long-running server is in, for every column alike. With one warm-up burst the first
        // fan-out form measured was still ~1.5-2x slower per delivery than the second, whichever form came first.
        // Code that runs once per call (the gRPC method, the loop over every target) climbs those tiers only after
        // enough calls: a form that makes one or five calls per burst would still run it quick-JIT-compiled (or
        // on-stack replaced) in every measured burst. Small calls of the same target first, for every such column.
        if (tierUp)
        {
            pool.ResetCounters();
            var (ok, _, _) = await InFlightAsync(TierUpCalls, 4, async c =>
            {
                var req = new SendBatchRequest();
                for (int k = 0; k < TierUpItems; k++)
                {
                    var item = new BatchItem { Text = Payload.Now(k) };
                    if (tierUpGroup is null)
                    {
                        item.All = true;
                    }
                    else
                    {
                        item.Groups.Add(tierUpGroup);
                    }
                    req.Items.Add(item);
                }
                await t.Gw.SendBatchAsync(req).ResponseAsync.ConfigureAwait(false);
            }).ConfigureAwait(false);
            await WaitDeliveredAsync(pool, ok * TierUpItems * pool.Conns.Count, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        for (int warm = 0; warm < 2; warm++)
        {
            pool.ResetCounters();
            long warmExpected = (long)pool.Conns.Count * o.Messages;
            var (_, warmErrors, _) = await burstOf(o.Bursts + warm).ConfigureAwait(false);
            await WaitDeliveredAsync(pool, warmExpected - (warmErrors * pool.Conns.Count), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            await WaitIdleAsync(pid).ConfigureAwait(false);
        }
        double cpu0 = ProcStats.CpuMs(pid);
        // The measuring side: the driver (clients and gRPC), plus the Node backend when it makes this column's calls.
        double MeasuringCpu() => ProcStats.CpuMs(Environment.ProcessId) + (node is not null && !node.HasExited ? ProcStats.CpuMs(node.Pid) : 0);
        double self0 = MeasuringCpu();
        double NodeCpu() => node is not null && !node.HasExited ? ProcStats.CpuMs(node.Pid) : 0;
        double node0 = NodeCpu();
        var (sent0, writes0) = await WritesAsync(t).ConfigureAwait(false);
        for (int b = 0; b < o.Bursts; b++)
        {
            pool.ResetCounters();
            var sink = new LatencySink(h);
            pool.Sink = sink;
            long expected = (long)pool.Conns.Count * o.Messages;
            long t0 = Stopwatch.GetTimestamp();
            var (_, errors, first) = await burstOf(b).ConfigureAwait(false);
            callErrors += errors;
            firstError ??= first;
            long received = await WaitDeliveredAsync(pool, expected - (errors * pool.Conns.Count), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            double seconds = Seconds(t0, sink.LastTicks);
            rates.Add(seconds > 0 ? received / seconds : double.NaN);
            lost += expected - received;
            delivered += received;
            pool.Sink = null;
            await Task.Delay(200).ConfigureAwait(false);
        }
        double cpu = ProcStats.CpuMs(pid) - cpu0;
        var (sent1, writes1) = await WritesAsync(t).ConfigureAwait(false);
        double self = MeasuringCpu() - self0;
        double nodeCpu = NodeCpu() - node0;
        string name = $"fan-out {form} ({pool.Conns.Count:N0} clients × {o.Messages:N0} msgs, median of {o.Bursts})";
        report.Set($"{name}: delivered msg/s", Unit.PerSecond, column, Median(rates));
        report.Set($"{name}: lost", Unit.Count, column, lost, ratio: false);
        Latency(name, column, h);
        report.Set($"{name}: server CPU per delivery", Unit.Micros, column, delivered > 0 ? cpu * 1000 / delivered : double.NaN);
        report.Set($"{name}: driver + load generator + Node backend CPU per delivery", Unit.Micros, column, delivered > 0 ? self * 1000 / delivered : double.NaN, ratio: false);
        if (nodeCpu > 0 && column != Report.Limit)
        {
            report.Set($"{name}: Node backend CPU per delivery (part of the row above)", Unit.Micros, column, delivered > 0 ? nodeCpu * 1000 / delivered : double.NaN, ratio: false);
        }
        if (writes1 > writes0)
        {
            report.Set($"{name}: messages per socket write (gateway's push.gateway.messages.sent ÷ push.gateway.writes)", Unit.Count, column, (double)(sent1 - sent0) / (writes1 - writes0), ratio: false);
        }
        if (callErrors > 0)
        {
            report.Fail($"{name}: failed push calls", column, $"{callErrors}: {firstError}");
        }
    }

    private static readonly HttpClient MetricsHttp = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>The gateway's own count of messages written and of socket writes (0, 0 without a /metrics endpoint).</summary>
    private static async Task<(long Sent, long Writes)> WritesAsync(Target t)
    {
        if (t.Server.Http is null)
        {
            return (0, 0);
        }
        try
        {
            string text = await MetricsHttp.GetStringAsync(new Uri(t.Server.Http, "/metrics")).ConfigureAwait(false);
            return (Sample(text, "push_gateway_messages_sent"), Sample(text, "push_gateway_writes"));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"{t.Column}: /metrics not read: {ex.Message}");
            return (0, 0);
        }
    }

    private static long Sample(string text, string metric)
    {
        long sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(metric, StringComparison.Ordinal) && line.Length > metric.Length && (line[metric.Length] is '{' or ' ' || line.AsSpan(metric.Length).StartsWith("_total")))
            {
                int space = line.LastIndexOf(' ');
                if (space > 0 && double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                {
                    sum += (long)v;
                }
            }
        }
        return sum;
    }

    /// <summary>
    /// Waits until the server process is idle (under 3% of a core over half a second, at most 20 s): the background
    /// JIT compiles what the warm-up made hot (thousands of methods in `push start`), which otherwise runs during
    /// the measured bursts and takes a third of the server's CPU there.
    /// </summary>
    private static async Task WaitIdleAsync(int pid)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            double before = ProcStats.CpuMs(pid);
            await Task.Delay(500).ConfigureAwait(false);
            if (ProcStats.CpuMs(pid) - before < 15)
            {
                return;
            }
        }
    }
}
