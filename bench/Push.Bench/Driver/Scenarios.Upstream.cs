using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Push.Bench.Load;
using Push.V1;

namespace Push.Bench.Driver;

/// <summary>The upstream scenarios: client → server → client echo, paced and closed loop.</summary>
public sealed partial class Scenarios
{
    /// <summary>
    /// Paced echo: <see cref="Options.EchoRate"/> messages per second in total, spread over the echo clients in turn
    /// (each sent as it falls due, checked every millisecond); p50/p99 of the round trip, lost must be 0.
    /// </summary>
    private async Task UpstreamPacedAsync(string column, ClientPool pool, int pid, string suffix = "")
    {
        var conns = pool.Conns.Take(o.EchoClients).ToList();
        // One unmeasured paced second on these clients, then a wait for the server to go idle: measured right after
        // the setup, the first paced window of the suite had a p99 of 46-92 ms (three runs, quiet machine) against
        // 3-4 ms in the next windows, whatever the GC mode or the idle memory trim; as with the fan-out forms, the
        // timed window measures the steady state.
        pool.ResetCounters();
        long warmSent = await PacedSendAsync(conns, o.EchoRate).ConfigureAwait(false);
        await WaitDeliveredAsync(pool, warmSent, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await WaitIdleAsync(pid).ConfigureAwait(false);

        pool.ResetCounters();
        var h = new Histogram();
        var sink = new LatencySink(h);
        pool.Sink = sink;
        int total = (int)(o.EchoRate * o.Duration);
        double cpu0 = ProcStats.CpuMs(pid);
        long sent = await PacedSendAsync(conns, total).ConfigureAwait(false);
        long received = await WaitDeliveredAsync(pool, sent, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        double cpu = ProcStats.CpuMs(pid) - cpu0;
        pool.Sink = null;
        string name = $"upstream echo, paced ({conns.Count:N0} clients, {o.EchoRate:N0} msg/s in total){suffix}";
        Latency(name, column, h);
        report.Set($"{name}: server CPU per round trip", Unit.Micros, column, received > 0 ? cpu * 1000 / received : double.NaN);
        report.Set($"{name}: lost", Unit.Count, column, sent - received, ratio: false);
    }

    private async Task UpstreamAsync(string column, ClientPool pool, int pid, string suffix = "")
    {
        var conns = pool.Conns.Take(o.EchoClients).ToList();
        pool.ResetCounters();
        var h = new Histogram();
        long sent = 0;
        long t0 = Stopwatch.GetTimestamp();
        long deadline = t0 + (long)(o.Duration * Freq);
        void SendNext(WsConn c)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= deadline)
            {
                return;
            }
            Span<byte> buf = stackalloc byte[Payload.Size];
            Payload.Write(buf, now, c.Index);
            if (c.SendText(buf))
            {
                Interlocked.Increment(ref sent);
            }
        }
        var sink = new LatencySink(h, SendNext);
        pool.Sink = sink;
        double cpu0 = ProcStats.CpuMs(pid);
        foreach (var c in conns)
        {
            SendNext(c);
        }
        await Task.Delay(TimeSpan.FromSeconds(o.Duration)).ConfigureAwait(false);
        long received = await WaitDeliveredAsync(pool, Interlocked.Read(ref sent), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        double cpu = ProcStats.CpuMs(pid) - cpu0;
        pool.Sink = null;
        string name = $"upstream echo, closed loop ({conns.Count:N0} clients, 1 message in flight each){suffix}";
        report.Set($"{name}: round trips/s", Unit.PerSecond, column, received / Seconds(t0, sink.LastTicks));
        Latency(name, column, h);
        report.Set($"{name}: server CPU per round trip", Unit.Micros, column, received > 0 ? cpu * 1000 / received : double.NaN);
        report.Set($"{name}: lost", Unit.Count, column, Interlocked.Read(ref sent) - received, ratio: false);
    }

    /// <summary>One second of paced echo at <see cref="Options.EchoRate"/> and one of closed-loop echo over <paramref name="warm"/>'s clients.</summary>
    private async Task WarmEchoAsync(ClientPool warm)
    {
        var conns = warm.Conns;
        warm.ResetCounters();
        await Task.Run(async () =>
        {
            byte[] buf = new byte[Payload.Size];
            long t0 = Stopwatch.GetTimestamp();
            int total = o.EchoRate;
            int issued = 0;
            while (issued < total)
            {
                int due = Math.Min(total, (int)(Seconds(t0, Stopwatch.GetTimestamp()) * o.EchoRate) + 1);
                for (; issued < due; issued++)
                {
                    Payload.Write(buf, Stopwatch.GetTimestamp(), issued);
                    conns[issued % conns.Count].SendText(buf);
                }
                await Task.Delay(1).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
        long deadline = Stopwatch.GetTimestamp() + (long)Freq;
        void SendNext(WsConn c)
        {
            long now = Stopwatch.GetTimestamp();
            if (now < deadline)
            {
                Span<byte> buf = stackalloc byte[Payload.Size];
                Payload.Write(buf, now, c.Index);
                c.SendText(buf);
            }
        }
        warm.Sink = new LatencySink(new Histogram(), SendNext);
        foreach (var c in conns)
        {
            SendNext(c);
        }
        await Task.Delay(TimeSpan.FromSeconds(1.5)).ConfigureAwait(false);
        warm.Sink = null;
    }

    /// <summary>Sends <paramref name="total"/> timed messages at <see cref="Options.EchoRate"/> per second over <paramref name="conns"/> in turn; returns how many were sent.</summary>
    private Task<long> PacedSendAsync(List<WsConn> conns, int total) => Task.Run(async () =>
    {
        long sent = 0;
        byte[] buf = new byte[Payload.Size];
        long t0 = Stopwatch.GetTimestamp();
        int issued = 0;
        while (issued < total)
        {
            int due = Math.Min(total, (int)(Seconds(t0, Stopwatch.GetTimestamp()) * o.EchoRate) + 1);
            while (issued < due)
            {
                var c = conns[issued % conns.Count];
                Payload.Write(buf, Stopwatch.GetTimestamp(), issued);
                if (c.SendText(buf))
                {
                    sent++;
                }
                issued++;
            }
            await Task.Delay(1).ConfigureAwait(false);
        }
        return sent;
    });
}
