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
public sealed partial class Scenarios(Options o, Report report, NodeBackend? node = null, string nodeNote = "")
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

            if (o.EchoOnly)
            {
                for (int round = 1; round <= o.EchoRounds; round++)
                {
                    string suffix = o.EchoRounds == 1 ? string.Empty : $" (round {round})";
                    await Each("upstream echo, paced" + suffix, t => UpstreamPacedAsync(t.Column, t.Pool, t.Pid, suffix)).ConfigureAwait(false);
                    await Each("upstream echo, closed loop" + suffix, t => UpstreamAsync(t.Column, t.Pool, t.Pid, suffix)).ConfigureAwait(false);
                }
                return;
            }

            // Fan-out the way backends push: one unary call per message from the Node backend, 32 in flight (the
            // limit: the whole burst in one call); then SendBatch of 100 broadcast items, 4 in flight.
            string unaryForm = node is null ? $"one unary call per message (C# backend: {nodeNote}), 32 in flight" : "one unary call per message from a Node backend, 32 in flight";
            await Each("fan-out SendToAll, unary", t => FanOutAsync(t, $"SendToAll, {unaryForm}", burst => t.Column == Report.Limit
                ? OneCallPerBurstAsync(t, burst, null)
                : UnaryBurstAsync(t, burst, null), tierUp: t.Column == Report.Limit)).ConfigureAwait(false);
            await Each("fan-out SendToGroup, unary", t => FanOutAsync(t, $"SendToGroup, {unaryForm}", burst => t.Column == Report.Limit
                ? OneCallPerBurstAsync(t, burst, Group)
                : UnaryBurstAsync(t, burst, Group), tierUp: t.Column == Report.Limit, tierUpGroup: Group)).ConfigureAwait(false);
            await Each("fan-out SendToAll, SendBatch", t => FanOutAsync(t, $"SendToAll as SendBatch of {o.BatchSize} items, 4 in flight", burst => t.Column == Report.Limit
                ? OneCallPerBurstAsync(t, burst, null)
                : BatchBurstAsync(t, burst), tierUp: true)).ConfigureAwait(false);
            if (o.FanOutOnly)
            {
                return;
            }

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
        await Step("warm-up", column, () => WarmUpAsync(t, gw, ep)).ConfigureAwait(false);
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

    private async Task WarmUpAsync(Target t, GatewayService.GatewayServiceClient gw, IPEndPoint ep)
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
        // The fan-out forms of the timed scenarios: broadcast SendBatch (a burst in one call for the limit), and the
        // Node backend's channel to this server (opened here, not inside the first timed burst).
        await InFlightAsync(4, 2, i =>
        {
            var req = new SendBatchRequest();
            for (int k = 0; k < 50; k++)
            {
                req.Items.Add(new BatchItem { All = true, Text = Payload.Now(k) });
            }
            return gw.SendBatchAsync(req).ResponseAsync;
        }).ConfigureAwait(false);
        long nodeWarm = 0;
        if (node is not null && t.Column != Report.Limit)
        {
            var (ok, _, _) = await node.PushAsync(t.Server.Grpc, "warm", 100, 32, 0).ConfigureAwait(false);
            nodeWarm = ok;
        }
        byte[] buf = new byte[Payload.Size];
        for (int round = 0; round < 20; round++)
        {
            foreach (var c in conns)
            {
                Payload.Write(buf, Stopwatch.GetTimestamp(), round);
                c.SendText(buf);
            }
        }
        await WaitDeliveredAsync(warm, (conns.Count * (200L + 200 + nodeWarm + 20)) + 200, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        // The echo path the way the timed echoes drive it: a burst finishes tier-0 and leaves methods half way through
        // tiered compilation (PGO instrumentation, then tier 1), which the first timed echo would otherwise pay for
        // (measured: the JIT thread took ~45% of the suite's samples during an unwarmed paced echo). A paced second
        // and a closed-loop second at the timed rate call every method of the path often enough to reach tier 1.
        warm.Sink = null;
        await WarmEchoAsync(warm).ConfigureAwait(false);
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
}
