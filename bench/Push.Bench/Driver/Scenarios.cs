using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Push.Bench.Load;
using Push.V1;

namespace Push.Bench.Driver;

/// <summary>Records push-call-to-receipt latency of every timed message and counts it on its connection.</summary>
public sealed class LatencySink(Histogram histogram, Action<WsConn>? onTimed = null) : IMessageSink
{
    private long _lastTicks;

    /// <summary>Stopwatch ticks of the latest receipt.</summary>
    public long LastTicks => Volatile.Read(ref _lastTicks);

    public void OnMessage(WsConn conn, ReadOnlySpan<byte> payload)
    {
        if (!Payload.TryParse(payload, out long ticks, out _))
        {
            return;
        }
        long now = Stopwatch.GetTimestamp();
        histogram.Record((now - ticks) * 1_000_000 / Stopwatch.Frequency);
        conn.Received++;
        long prev;
        while (now > (prev = Volatile.Read(ref _lastTicks)) && Interlocked.CompareExchange(ref _lastTicks, now, prev) != prev)
        {
        }
        onTimed?.Invoke(conn);
    }
}

/// <summary>Starts a fresh server of one column.</summary>
public delegate Task<ServerProcess> ServerFactory(string purpose);

/// <summary>The scenarios, run against one server at a time.</summary>
public sealed class Scenarios(Options o, Report report, NodeBackend? node = null, string nodeNote = "")
{
    private readonly Dictionary<string, double> _unaryRate = [];

    /// <summary>Time since the driver started, for the progress lines.</summary>
    public static Stopwatch Elapsed { get; } = Stopwatch.StartNew();

    private const string Group = "bench";
    private static readonly double Freq = Stopwatch.Frequency;

    // Source addresses: the driver's own connections use 127.0.0.2.., idle children the ones after.
    private const int DriverSourceFrom = 2;

    public static GrpcChannel Channel(Uri address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = false,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        },
        MaxReceiveMessageSize = 64 << 20,
        MaxSendMessageSize = 64 << 20,
    });

    private static double Seconds(long fromTicks, long toTicks) => (toTicks - fromTicks) / Freq;

    /// <summary>Runs <paramref name="op"/> for indexes 0..total-1, <paramref name="concurrency"/> at a time; returns (ok, errors, first error).</summary>
    public static async Task<(long Ok, long Errors, string? FirstError)> InFlightAsync(int total, int concurrency, Func<int, Task> op, long deadlineTicks = long.MaxValue)
    {
        int next = -1;
        long ok = 0;
        long errors = 0;
        string? first = null;
        async Task Worker()
        {
            while (true)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= total || Stopwatch.GetTimestamp() >= deadlineTicks)
                {
                    return;
                }
                try
                {
                    await op(i).ConfigureAwait(false);
                    Interlocked.Increment(ref ok);
                }
                catch (RpcException ex)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref first, $"{ex.StatusCode}: {ex.Status.Detail}", null);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, Math.Min(concurrency, total))).Select(_ => Task.Run(Worker))).ConfigureAwait(false);
        return (ok, errors, first);
    }

    /// <summary>Waits until the pool received <paramref name="expected"/> timed messages, nothing arrived for <paramref name="quiet"/>, or <paramref name="max"/> passed.</summary>
    private static async Task<long> WaitDeliveredAsync(ClientPool pool, long expected, TimeSpan quiet, TimeSpan max)
    {
        var sw = Stopwatch.StartNew();
        long last = -1;
        var lastChange = Stopwatch.StartNew();
        while (true)
        {
            long n = pool.TotalReceived();
            if (n >= expected)
            {
                return n;
            }
            if (n != last)
            {
                last = n;
                lastChange.Restart();
            }
            else if (lastChange.Elapsed > quiet || sw.Elapsed > max)
            {
                return n;
            }
            await Task.Delay(2).ConfigureAwait(false);
        }
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }

    private void Latency(string name, string column, Histogram h)
    {
        report.Set($"{name}: latency p50", Unit.Millis, column, h.Percentile(50) / 1000.0);
        report.Set($"{name}: latency p99", Unit.Millis, column, h.Percentile(99) / 1000.0);
    }

    private async Task Step(string name, string column, Func<Task> step)
    {
        Console.Error.WriteLine($"[{column}] {name}... (t={Elapsed.Elapsed.TotalSeconds:0.0} s)");
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            report.Fail(name, column, ex.GetType().Name + ": " + ex.Message);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Active scenarios: one fresh server, N clients, every push/echo scenario.
    // ----------------------------------------------------------------------------------------

    /// <summary>One server of the active scenarios with its clients.</summary>
    private sealed class Target(string column, ServerProcess server) : IDisposable
    {
        public string Column { get; } = column;

        public ServerProcess Server { get; } = server;

        public GrpcChannel Channel { get; } = Scenarios.Channel(server.Grpc);

        public GatewayService.GatewayServiceClient Gw => new(Channel);

        public ClientPool Pool { get; } = new();

        public int Pid => Server.Pid;

        public void Dispose()
        {
            Pool.Dispose();
            Channel.Dispose();
            Server.Dispose();
        }
    }

    /// <summary>
    /// Starts every column's server (fresh), connects and sets up its clients, then runs each
    /// scenario on every server in turn, alternating which goes first, so that both columns
    /// of a row are measured close together in time.
    /// </summary>
    public async Task ActiveAsync(IReadOnlyList<(string Column, ServerFactory Start)> columns)
    {
        var targets = new List<Target>();
        try
        {
            foreach (var (column, start) in columns)
            {
                try
                {
                    var t = new Target(column, await start("active").ConfigureAwait(false));
                    targets.Add(t);
                    await SetUpAsync(t).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    report.Fail("active scenarios", column, ex.GetType().Name + ": " + ex.Message);
                    targets.RemoveAll(t => t.Column == column && Dispose(t));
                }
            }
            if (targets.Count == 0)
            {
                return;
            }

            int turn = 0;
            async Task Each(string name, Func<Target, Task> run)
            {
                var order = turn++ % 2 == 0 ? targets : Enumerable.Reverse(targets).ToList();
                foreach (var t in order)
                {
                    await Step(name, t.Column, () => run(t)).ConfigureAwait(false);
                }
            }

            // Fan-out the way backends push: one unary call per message from the Node backend, 32 in flight (the
            // limit: the whole burst in one call); then SendBatch of 100 broadcast items, 4 in flight.
            string unaryForm = node is null ? $"one unary call per message (C# backend: {nodeNote}), 32 in flight" : "one unary call per message from a Node backend, 32 in flight";
            await Each("fan-out SendToAll, unary", t => FanOutAsync(t, $"SendToAll, {unaryForm}", burst => t.Column == Report.Limit
                ? OneCallPerBurstAsync(t, burst, null)
                : UnaryBurstAsync(t, burst, null))).ConfigureAwait(false);
            await Each("fan-out SendToGroup, unary", t => FanOutAsync(t, $"SendToGroup, {unaryForm}", burst => t.Column == Report.Limit
                ? OneCallPerBurstAsync(t, burst, Group)
                : UnaryBurstAsync(t, burst, Group))).ConfigureAwait(false);
            await Each("fan-out SendToAll, SendBatch", t => FanOutAsync(t, $"SendToAll as SendBatch of {o.BatchSize} items, 4 in flight", burst => t.Column == Report.Limit
                ? OneCallPerBurstAsync(t, burst, null)
                : BatchBurstAsync(t, burst))).ConfigureAwait(false);

            await Each("unary SendToClient, 1 in flight", t => UnaryAsync(t.Column, t.Pool, t.Gw, 1, Math.Max(1, o.Duration / 2))).ConfigureAwait(false);
            await Each("unary SendToClient, 64 in flight", t => UnaryAsync(t.Column, t.Pool, t.Gw, 64, o.Duration)).ConfigureAwait(false);
            await Each("SendBatch", t => BatchAsync(t.Column, t.Pool, t.Gw)).ConfigureAwait(false);

            await Each("paced SendToClient", t => PacedAsync(t.Column, "single push SendToClient", t.Pool,
                (i, text) => t.Gw.SendToClientAsync(new SendToClientRequest { ClientId = t.Pool.Conns[i % t.Pool.Conns.Count].ClientId, Text = text }).ResponseAsync)).ConfigureAwait(false);
            await Each("paced SendToUid", t => PacedAsync(t.Column, "single push SendToUid", t.Pool,
                (i, text) => t.Gw.SendToUidAsync(new SendToUidRequest { Uids = { "u" + (i % t.Pool.Conns.Count).ToString(CultureInfo.InvariantCulture) }, Text = text }).ResponseAsync)).ConfigureAwait(false);

            await Each("upstream echo, paced", t => UpstreamPacedAsync(t.Column, t.Pool, t.Pid)).ConfigureAwait(false);
            await Each("upstream echo, closed loop", t => UpstreamAsync(t.Column, t.Pool, t.Pid)).ConfigureAwait(false);

            await Each("dropped", async t =>
            {
                var status = await t.Gw.GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync.ConfigureAwait(false);
                report.Set("server-reported dropped messages (whole active run)", Unit.Count, t.Column, status.Gateways.Sum(g => g.MessagesDropped), ratio: false);
            }).ConfigureAwait(false);
        }
        finally
        {
            foreach (var t in targets)
            {
                t.Dispose();
            }
        }
    }

    private static bool Dispose(Target t)
    {
        t.Dispose();
        return true;
    }

    private async Task SetUpAsync(Target t)
    {
        string column = t.Column;
        var gw = t.Gw;
        var ep = t.Server.WsEndPoint;
        await Step("warm-up", column, () => WarmUpAsync(gw, ep)).ConfigureAwait(false);
        await Task.Delay(1000).ConfigureAwait(false); // let tiered compilation finish on both sides

        var pool = t.Pool;
        await pool.ConnectAsync(ep, o.Clients, 64, DriverSourceFrom, o.SourceAddresses, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        report.Set($"connection rate ({o.Clients:N0} clients from the driver, 64 at a time, until the greeting): connects/s", Unit.PerSecond, column, pool.Conns.Count / pool.ConnectSeconds);
        if (pool.Failed > 0)
        {
            report.Fail($"connect {o.Clients:N0} clients", column, $"{pool.Failed} failed: {pool.FirstError}");
        }
        if (pool.Conns.Count == 0)
        {
            throw new IOException("no client could connect: " + pool.FirstError);
        }
        var conns = pool.Conns;

        // Memberships for the group and uid scenarios.
        var (_, e1, f1) = await InFlightAsync(conns.Count, 64, i => gw.JoinGroupAsync(new JoinGroupRequest { ClientId = conns[i].ClientId, Group = Group }).ResponseAsync).ConfigureAwait(false);
        var (_, e2, f2) = await InFlightAsync(conns.Count, 64, i => gw.BindUidAsync(new BindUidRequest { ClientId = conns[i].ClientId, Uid = "u" + i.ToString(CultureInfo.InvariantCulture) }).ResponseAsync).ConfigureAwait(false);
        if (e1 + e2 > 0)
        {
            report.Fail("setup: JoinGroup + BindUid", column, $"{e1} JoinGroup and {e2} BindUid calls failed: {f1 ?? f2}");
        }
    }

    private static async Task WarmUpAsync(GatewayService.GatewayServiceClient gw, IPEndPoint ep)
    {
        using var warm = new ClientPool();
        await warm.ConnectAsync(ep, 500, 64, DriverSourceFrom, 1, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        if (warm.Conns.Count == 0)
        {
            throw new IOException("no warm-up client could connect: " + warm.FirstError);
        }
        var h = new Histogram();
        warm.Sink = new LatencySink(h);
        var conns = warm.Conns;
        await InFlightAsync(conns.Count, 16, i => gw.JoinGroupAsync(new JoinGroupRequest { ClientId = conns[i].ClientId, Group = "warm" }).ResponseAsync).ConfigureAwait(false);
        await InFlightAsync(200, 8, i => gw.SendToGroupAsync(new SendToGroupRequest { Groups = { "warm" }, Text = Payload.Now(i) }).ResponseAsync).ConfigureAwait(false);
        await InFlightAsync(200, 16, i => gw.SendToClientAsync(new SendToClientRequest { ClientId = conns[i % conns.Count].ClientId, Text = Payload.Now(i) }).ResponseAsync).ConfigureAwait(false);
        byte[] buf = new byte[Payload.Size];
        for (int round = 0; round < 20; round++)
        {
            foreach (var c in conns)
            {
                Payload.Write(buf, Stopwatch.GetTimestamp(), round);
                c.SendText(buf);
            }
        }
        await WaitDeliveredAsync(warm, (conns.Count * 200L) + 200 + (conns.Count * 20L), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

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
        double self0 = ProcStats.CpuMs(Environment.ProcessId);
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
        double self = ProcStats.CpuMs(Environment.ProcessId) - self0;
        string name = $"fan-out {form} ({pool.Conns.Count:N0} clients × {o.Messages:N0} msgs, median of {o.Bursts})";
        report.Set($"{name}: delivered msg/s", Unit.PerSecond, column, Median(rates));
        report.Set($"{name}: lost", Unit.Count, column, lost, ratio: false);
        Latency(name, column, h);
        report.Set($"{name}: server CPU per delivery", Unit.Micros, column, delivered > 0 ? cpu * 1000 / delivered : double.NaN);
        report.Set($"{name}: driver + load generator CPU per delivery", Unit.Micros, column, delivered > 0 ? self * 1000 / delivered : double.NaN, ratio: false);
        if (callErrors > 0)
        {
            report.Fail($"{name}: failed push calls", column, $"{callErrors}: {firstError}");
        }
    }

    private async Task UnaryAsync(string column, ClientPool pool, GatewayService.GatewayServiceClient gw, int inFlight, double duration)
    {
        var conns = pool.Conns;
        pool.ResetCounters();
        var h = new Histogram();
        var sink = new LatencySink(h);
        pool.Sink = sink;
        long t0 = Stopwatch.GetTimestamp();
        long deadline = t0 + (long)(duration * Freq);
        var (ok, errors, first) = await InFlightAsync(int.MaxValue, inFlight, i =>
            gw.SendToClientAsync(new SendToClientRequest { ClientId = conns[i % conns.Count].ClientId, Text = Payload.Now(i) }).ResponseAsync, deadline).ConfigureAwait(false);
        double callSeconds = Seconds(t0, Stopwatch.GetTimestamp());
        long received = await WaitDeliveredAsync(pool, ok, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        pool.Sink = null;
        string name = $"unary SendToClient, one channel, {inFlight} in flight";
        report.Set($"{name}: calls/s", Unit.PerSecond, column, ok / callSeconds);
        if (inFlight > 1)
        {
            double rate = received / Seconds(t0, sink.LastTicks);
            _unaryRate[column] = rate;
            report.Set($"{name}: delivered msg/s", Unit.PerSecond, column, rate);
        }
        report.Set($"{name}: latency p99 (call to receipt)", Unit.Millis, column, h.Percentile(99) / 1000.0);
        report.Set($"{name}: lost", Unit.Count, column, ok - received, ratio: false);
        if (errors > 0)
        {
            report.Fail($"{name}: failed calls", column, $"{errors}: {first}");
        }
    }

    private async Task BatchAsync(string column, ClientPool pool, GatewayService.GatewayServiceClient gw)
    {
        var conns = pool.Conns;
        pool.ResetCounters();
        var h = new Histogram();
        var sink = new LatencySink(h);
        pool.Sink = sink;
        int size = o.BatchSize;
        long t0 = Stopwatch.GetTimestamp();
        long deadline = t0 + (long)(o.Duration * Freq);
        var (ok, errors, first) = await InFlightAsync(int.MaxValue, 4, i =>
        {
            var req = new SendBatchRequest();
            long ticks = Stopwatch.GetTimestamp();
            for (int k = 0; k < size; k++)
            {
                int n = (i * size) + k;
                req.Items.Add(new BatchItem { ClientId = conns[n % conns.Count].ClientId, Text = Payload.Text(ticks, n) });
            }
            return gw.SendBatchAsync(req).ResponseAsync;
        }, deadline).ConfigureAwait(false);
        long sent = ok * size;
        long received = await WaitDeliveredAsync(pool, sent, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        pool.Sink = null;
        string name = $"SendBatch ({size} SendToClient items per call, 4 calls in flight)";
        double rate = received / Seconds(t0, sink.LastTicks);
        report.Set($"{name}: delivered msg/s", Unit.PerSecond, column, rate);
        if (_unaryRate.TryGetValue(column, out double unary) && unary > 0)
        {
            report.Set("SendBatch msg/s ÷ unary SendToClient (64 in flight) msg/s", Unit.Factor, column, rate / unary);
        }
        report.Set($"{name}: latency p99 (call to receipt)", Unit.Millis, column, h.Percentile(99) / 1000.0);
        report.Set($"{name}: lost", Unit.Count, column, sent - received, ratio: false);
        if (errors > 0)
        {
            report.Fail($"{name}: failed calls", column, $"{errors}: {first}");
        }
    }

    private async Task PacedAsync(string column, string name, ClientPool pool, Func<int, string, Task> push)
    {
        pool.ResetCounters();
        var h = new Histogram();
        pool.Sink = new LatencySink(h);
        int total = (int)(o.Rate * o.Duration);
        using var gate = new SemaphoreSlim(512);
        var inFlight = new List<Task>(total);
        long errors = 0;
        string? first = null;
        long t0 = Stopwatch.GetTimestamp();
        int issued = 0;
        while (issued < total)
        {
            int due = Math.Min(total, (int)(Seconds(t0, Stopwatch.GetTimestamp()) * o.Rate) + 1);
            while (issued < due)
            {
                if (!await gate.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false))
                {
                    throw new TimeoutException("512 pushes in flight for 10 s");
                }
                int i = issued++;
                inFlight.Add(Task.Run(async () =>
                {
                    try
                    {
                        await push(i, Payload.Now(i)).ConfigureAwait(false);
                    }
                    catch (RpcException ex)
                    {
                        Interlocked.Increment(ref errors);
                        Interlocked.CompareExchange(ref first, $"{ex.StatusCode}: {ex.Status.Detail}", null);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }));
            }
            await Task.Delay(1).ConfigureAwait(false);
        }
        await Task.WhenAll(inFlight).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        long ok = total - errors;
        long received = await WaitDeliveredAsync(pool, ok, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        pool.Sink = null;
        string full = $"{name} at {o.Rate:N0}/s";
        Latency(full, column, h);
        report.Set($"{full}: lost", Unit.Count, column, ok - received, ratio: false);
        if (errors > 0)
        {
            report.Fail($"{full}: failed calls", column, $"{errors}: {first}");
        }
    }

    /// <summary>
    /// Paced echo: <see cref="Options.EchoRate"/> messages per second in total, spread over the echo clients in turn
    /// (each sent as it falls due, checked every millisecond); p50/p99 of the round trip, lost must be 0.
    /// </summary>
    private async Task UpstreamPacedAsync(string column, ClientPool pool, int pid)
    {
        var conns = pool.Conns.Take(o.EchoClients).ToList();
        pool.ResetCounters();
        var h = new Histogram();
        var sink = new LatencySink(h);
        pool.Sink = sink;
        int total = (int)(o.EchoRate * o.Duration);
        long sent = 0;
        double cpu0 = ProcStats.CpuMs(pid);
        await Task.Run(async () =>
        {
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
        }).ConfigureAwait(false);
        long received = await WaitDeliveredAsync(pool, sent, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        double cpu = ProcStats.CpuMs(pid) - cpu0;
        pool.Sink = null;
        string name = $"upstream echo, paced ({conns.Count:N0} clients, {o.EchoRate:N0} msg/s in total)";
        Latency(name, column, h);
        report.Set($"{name}: server CPU per round trip", Unit.Micros, column, received > 0 ? cpu * 1000 / received : double.NaN);
        report.Set($"{name}: lost", Unit.Count, column, sent - received, ratio: false);
    }

    private async Task UpstreamAsync(string column, ClientPool pool, int pid)
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
        string name = $"upstream echo, closed loop ({conns.Count:N0} clients, 1 message in flight each)";
        report.Set($"{name}: round trips/s", Unit.PerSecond, column, received / Seconds(t0, sink.LastTicks));
        Latency(name, column, h);
        report.Set($"{name}: server CPU per round trip", Unit.Micros, column, received > 0 ? cpu * 1000 / received : double.NaN);
        report.Set($"{name}: lost", Unit.Count, column, Interlocked.Read(ref sent) - received, ratio: false);
    }

    // ----------------------------------------------------------------------------------------
    // Idle footprint: a fresh server, connections held by child processes.
    // ----------------------------------------------------------------------------------------

    public async Task IdleAsync(string column, ServerFactory start)
    {
        if (o.Idle <= 0)
        {
            return;
        }
        Console.Error.WriteLine($"[{column}] idle footprint... (t={Elapsed.Elapsed.TotalSeconds:0.0} s)");
        using var server = await start("idle").ConfigureAwait(false);
        using var channel = Channel(server.Grpc);
        var gw = new GatewayService.GatewayServiceClient(channel);
        int pid = server.Pid;
        bool gcInduced = true;
        async Task<(long RssKb, long? Live)> ReadingAsync()
        {
            // A full GC first, so that garbage left by the calls does not count as state.
            long? live = await ProcStats.InduceGcAsync(pid).ConfigureAwait(false);
            gcInduced &= live is not null;
            return (await ProcStats.SettledRssKb(pid, TimeSpan.FromSeconds(6)).ConfigureAwait(false), live);
        }
        void Costs(string what, int count, (long RssKb, long? Live) before, (long RssKb, long? Live) after, Unit unit)
        {
            double scale = unit == Unit.KiB ? 1.0 / 1024 : 1.0;
            // A few MB of GC retention between readings swamps costs of ~100 B: such RSS rows are marked and get no ratio.
            bool small = unit == Unit.Bytes;
            report.Set($"idle: server RSS per {what}{(small ? " (noisy, see README)" : "")}", unit, column, (after.RssKb - before.RssKb) * 1024.0 * scale / Math.Max(1, count), ratio: !small);
            if (before.Live is long b && after.Live is long a)
            {
                report.Set($"idle: server live managed heap per {what}", unit, column, (a - b) * scale / Math.Max(1, count));
            }
        }

        // Warm the server's code paths (connect, join, bind, the gRPC connection) before the first reading.
        using var warm = new ClientPool();
        await warm.ConnectAsync(server.WsEndPoint, 100, 16, DriverSourceFrom, 1, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        if (warm.Conns.Count == 0)
        {
            throw new IOException("no warm-up client could connect: " + warm.FirstError);
        }
        var warmIds = warm.Conns.Select(c => c.ClientId!).ToHashSet(StringComparer.Ordinal);
        var warmList = warmIds.ToList();
        await InFlightAsync(warmList.Count * 10, 64, i => gw.JoinGroupAsync(new JoinGroupRequest { ClientId = warmList[i % warmList.Count], Group = "warm" + (i / warmList.Count).ToString(CultureInfo.InvariantCulture) }).ResponseAsync).ConfigureAwait(false);
        await InFlightAsync(warmList.Count * 10, 64, i => gw.BindUidAsync(new BindUidRequest { ClientId = warmList[i % warmList.Count], Uid = "w" + i.ToString(CultureInfo.InvariantCulture) }).ResponseAsync).ConfigureAwait(false);

        var rss0 = await ReadingAsync().ConfigureAwait(false);

        // Children hold the idle connections (a process can open only about 20,000 files).
        int childCount = Math.Max(1, (o.Idle + 5999) / 6000);
        var children = new List<Process>();
        try
        {
            var results = new List<Task<JsonElement>>();
            int remaining = o.Idle;
            for (int k = 0; k < childCount; k++)
            {
                int count = remaining / (childCount - k);
                remaining -= count;
                var info = Children.Self([
                    "clients", "--ws", server.Ws.ToString(), "--count", count.ToString(CultureInfo.InvariantCulture),
                    "--src-from", (DriverSourceFrom + o.SourceAddresses + (k * o.SourceAddresses)).ToString(CultureInfo.InvariantCulture),
                    "--src-count", o.SourceAddresses.ToString(CultureInfo.InvariantCulture), "--concurrency", "64",
                ]);
                info.RedirectStandardInput = true;
                info.RedirectStandardOutput = true;
                var p = Children.Start(info, null);
                children.Add(p);
                results.Add(ReadResultAsync(p, TimeSpan.FromSeconds(120)));
            }
            var parsed = await Task.WhenAll(results).ConfigureAwait(false);
            int connected = parsed.Sum(r => r.GetProperty("connected").GetInt32());
            int failed = parsed.Sum(r => r.GetProperty("failed").GetInt32());
            double slowest = parsed.Max(r => r.GetProperty("seconds").GetDouble());
            report.Set($"connection rate ({o.Idle:N0} idle clients from {childCount} child processes, 64 at a time each): connects/s", Unit.PerSecond, column, connected / slowest);
            if (failed > 0)
            {
                string err = parsed.Select(r => r.TryGetProperty("error", out var e) ? e.GetString() : null).FirstOrDefault(e => e is not null) ?? "";
                report.Fail($"idle: connections that failed", column, $"{failed} of {o.Idle}: {err}");
            }

            var rss1 = await ReadingAsync().ConfigureAwait(false);
            Costs($"connection ({connected:N0} connections)", connected, rss0, rss1, Unit.KiB);
            report.Set("idle: server RSS before them (100 warm-up clients connected)", Unit.MiB, column, rss0.RssKb / 1024.0);

            // Each state-changing round below is preceded by a control round of the same number
            // of calls of the same shape that changes no lasting state (on the warm clients), so
            // that heap growth caused by the calls' garbage is already in the reading before it.
            // (--quick skips them: the live-heap rows do not need them.)
            var rss1b = rss1;
            if (!o.Quick)
            {
                await InFlightAsync(connected * 2, 64, i => gw.JoinGroupAsync(new JoinGroupRequest { ClientId = warmList[i % warmList.Count], Group = "warm" + (i / warmList.Count % 10).ToString(CultureInfo.InvariantCulture) }).ResponseAsync).ConfigureAwait(false);
                rss1b = await ReadingAsync().ConfigureAwait(false);
            }

            var ids = (await gw.GetAllClientIdListAsync(new GetAllClientIdListRequest(), deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync.ConfigureAwait(false))
                .ClientIds.Where(id => !warmIds.Contains(id)).ToList();
            const int GroupsPerClient = 2;
            const int Groups = 100;
            var (joined, jerr, jfirst) = await InFlightAsync(ids.Count * GroupsPerClient, 64, i => gw.JoinGroupAsync(new JoinGroupRequest
            {
                ClientId = ids[i / GroupsPerClient],
                Group = "idle" + (i % Groups).ToString(CultureInfo.InvariantCulture),
            }).ResponseAsync).ConfigureAwait(false);
            var rss2 = await ReadingAsync().ConfigureAwait(false);
            Costs($"group membership ({joined:N0} in {Groups} groups)", (int)joined, rss1b, rss2, Unit.Bytes);

            var rss2b = rss2;
            if (!o.Quick)
            {
                await InFlightAsync(ids.Count, 64, i => gw.BindUidAsync(new BindUidRequest { ClientId = warmList[i % warmList.Count], Uid = "w" + (i % (warmList.Count * 10)).ToString(CultureInfo.InvariantCulture) }).ResponseAsync).ConfigureAwait(false);
                rss2b = await ReadingAsync().ConfigureAwait(false);
            }
            if (jerr > 0)
            {
                report.Fail("idle: JoinGroup failures", column, $"{jerr}: {jfirst}");
            }

            var (bound, berr, bfirst) = await InFlightAsync(ids.Count, 64, i => gw.BindUidAsync(new BindUidRequest
            {
                ClientId = ids[i],
                Uid = "iu" + i.ToString(CultureInfo.InvariantCulture),
            }).ResponseAsync).ConfigureAwait(false);
            var rss3 = await ReadingAsync().ConfigureAwait(false);
            Costs($"uid binding ({bound:N0} distinct uids)", (int)bound, rss2b, rss3, Unit.Bytes);
            if (berr > 0)
            {
                report.Fail("idle: BindUid failures", column, $"{berr}: {bfirst}");
            }
        }
        finally
        {
            if (!gcInduced)
            {
                report.Note($"{column}: a full GC could not be induced in the server before the memory readings (no diagnostics port); they include uncollected garbage");
            }
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
                if (!p.WaitForExit(5000))
                {
                    Children.Kill(p);
                }
                Children.Kill(p);
            }
        }
    }

    private static async Task<JsonElement> ReadResultAsync(Process p, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            string? line = await p.StandardOutput.ReadLineAsync(cts.Token).ConfigureAwait(false)
                ?? throw new IOException($"load-generator child {p.Id} exited without a result");
            if (line.StartsWith('{'))
            {
                using var doc = JsonDocument.Parse(line);
                return doc.RootElement.Clone();
            }
        }
    }
}
