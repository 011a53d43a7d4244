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

    /// <summary>
    /// Bursts of <see cref="Options.Messages"/> pushes to every client; <paramref name="burstOf"/> makes one burst's
    /// calls and returns the messages accepted and refused.
    /// </summary>
    private async Task FanOutAsync(Target t, string form, Func<int, Task<(long Ok, long Errors, string? FirstError)>> burstOf)
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
        double cpu0 = ProcStats.CpuMs(pid);
        // The measuring side: the driver (clients and gRPC), plus the Node backend when it makes this column's calls.
        double MeasuringCpu() => ProcStats.CpuMs(Environment.ProcessId) + (node is not null && !node.HasExited ? ProcStats.CpuMs(node.Pid) : 0);
        double self0 = MeasuringCpu();
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
        double self = MeasuringCpu() - self0;
        string name = $"fan-out {form} ({pool.Conns.Count:N0} clients × {o.Messages:N0} msgs, median of {o.Bursts})";
        report.Set($"{name}: delivered msg/s", Unit.PerSecond, column, Median(rates));
        report.Set($"{name}: lost", Unit.Count, column, lost, ratio: false);
        Latency(name, column, h);
        report.Set($"{name}: server CPU per delivery", Unit.Micros, column, delivered > 0 ? cpu * 1000 / delivered : double.NaN);
        report.Set($"{name}: driver + load generator + Node backend CPU per delivery", Unit.Micros, column, delivered > 0 ? self * 1000 / delivered : double.NaN, ratio: false);
        if (callErrors > 0)
        {
            report.Fail($"{name}: failed push calls", column, $"{callErrors}: {firstError}");
        }
    }
}
