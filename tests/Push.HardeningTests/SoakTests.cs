using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Push.Control;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// A bounded soak: clients connect, join groups, bind uids, chat, leave and disconnect (normally, abruptly or closed by
/// the server) for about a minute while a backend pushes to the groups. At the end nothing is left (connections,
/// groups, uids) and the gateway's memory is flat.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SoakTests(ITestOutputHelper output)
{
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Measured = TimeSpan.FromSeconds(50);
    private const int Loops = 12;

    [Fact]
    public async Task Churn_LeavesNothingBehind_AndMemoryIsFlat()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(150));
        await using var cluster = await TestCluster.StartAsync(gateways: 1, workers: 1, ct: ct);
        var gateway = cluster.Gateways[0];
        using var control = gateway.Control();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stats = new long[6]; // sessions, messages, server closes, aborts, pushes, errors
        var errors = new List<string>();

        var loops = Enumerable.Range(0, Loops).Select(loop => Task.Run(async () =>
        {
            var random = new Random(loop);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await SessionAsync(gateway, control, random, loop, stats, stop.Token);
                    Interlocked.Increment(ref stats[0]);
                }
                catch (Exception ex) when (stop.IsCancellationRequested && ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or InvalidOperationException or RpcException)
                {
                }
                catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or System.Net.WebSockets.WebSocketException or RpcException)
                {
                    Interlocked.Increment(ref stats[5]);
                    lock (errors)
                    {
                        errors.Add(ex.GetType().Name + ": " + ex.Message);
                    }
                }
            }
        }, CancellationToken.None)).ToList();
        loops.Add(Task.Run(async () =>
        {
            var random = new Random(99);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await control.SendToGroupAsync("room" + random.Next(10), "push " + random.Next(), stop.Token);
                    Interlocked.Increment(ref stats[4]);
                    await Task.Delay(5, stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException || (ex is RpcException && stop.IsCancellationRequested))
                {
                }
            }
        }, CancellationToken.None));

        var clock = Stopwatch.StartNew();
        var samples = new List<(double Seconds, double Gateway, double Worker, long Connections)>();
        async Task SampleAsync()
        {
            var connections = await control.GetAllClientCountAsync(ct);
            samples.Add((clock.Elapsed.TotalSeconds, Probe.RssMiB(gateway.Pid), Probe.RssMiB(cluster.Workers[0].Pid), connections));
        }
        while (clock.Elapsed < WarmUp + Measured)
        {
            await Task.Delay(TimeSpan.FromSeconds(5), ct);
            await SampleAsync();
        }
        await stop.CancelAsync();
        await Task.WhenAll(loops);
        var churnTime = clock.Elapsed;

        output.WriteLine($"soak: {churnTime.TotalSeconds:F0} s, {Loops} client loops: {stats[0]} sessions ({stats[2]} closed by the server, {stats[3]} aborted by the client), {stats[1]} client messages, {stats[4]} backend pushes, {stats[5]} errors");
        foreach (var e in errors.Take(5))
        {
            output.WriteLine("error: " + e);
        }
        try
        {
            await Probe.UntilAsync(async () => await control.GetAllClientCountAsync(ct) == 0, TimeSpan.FromSeconds(15), "no connection left", ct);
            await Probe.UntilAsync(async () => (await control.GetAllGroupIdListAsync(ct)).Count == 0, TimeSpan.FromSeconds(5), "no group left", ct);
            await Probe.UntilAsync(async () => await control.GetAllUidCountAsync(ct) == 0, TimeSpan.FromSeconds(5), "no uid left", ct);
        }
        catch (TimeoutException ex)
        {
            var left = await control.GetAllClientSessionsAsync(ct);
            throw new TimeoutException($"{ex.Message}; clients left: {string.Join(", ", left.Select(kv => kv.Key + " " + kv.Value))}; groups: {string.Join(", ", await control.GetAllGroupIdListAsync(ct))}\n{cluster.AllOutput()}", ex);
        }
        var status = (await control.GetStatusAsync(ct)).Gateways.Single();
        await SampleAsync();

        var warm = samples.Where(s => s.Seconds >= WarmUp.TotalSeconds).ToArray();
        var atWarmUp = warm[0].Gateway;
        var end = samples[^1].Gateway;
        var peak = warm.Max(s => s.Gateway);
        output.WriteLine("RSS samples (s: gateway MiB / worker MiB / connections): " + string.Join("  ", samples.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Seconds:F0}: {s.Gateway:F0}/{s.Worker:F0}/{s.Connections}"))));
        output.WriteLine($"gateway RSS after warm-up {atWarmUp:F0} MiB, peak {peak:F0} MiB, end {end:F0} MiB; at the end: connections {status.Connections}, groups {status.Groups}, uids {status.Uids}");

        Assert.Equal(0, status.Connections);
        Assert.Equal(0, status.Groups);
        Assert.Equal(0, status.Uids);
        Assert.True(stats[0] > 500, $"only {stats[0]} sessions");
        Assert.True(stats[5] <= stats[0] / 100, $"{stats[5]} errors in {stats[0]} sessions: {string.Join(" | ", errors.Take(5))}");
        Assert.True(end <= atWarmUp * 1.25 + 8, $"gateway RSS grew from {atWarmUp:F0} MiB after warm-up to {end:F0} MiB at the end");
    }

    private static async Task SessionAsync(PushProcess gateway, PushControlClient control, Random random, int loop, long[] stats, CancellationToken ct)
    {
        var ws = await TestWebSocket.ConnectAsync(gateway.Ws, cancellationToken: ct);
        try
        {
            var room = "room" + random.Next(10);
            await ws.SendTextAsync($"{{\"type\":\"join\",\"group\":\"{room}\"}}", ct);
            await ReceiveUntilAsync(ws, m => m.Contains("\"joined\"", StringComparison.Ordinal), ct);
            // A group of its own through the control API, and a uid (shared by a few clients at a time).
            await control.JoinGroupAsync(ws.ClientId, $"own-{loop}-{random.Next(1000)}", ct);
            var uid = "user" + random.Next(30);
            if (random.Next(2) == 0)
            {
                await ws.SendTextAsync($"{{\"type\":\"bind\",\"uid\":\"{uid}\"}}", ct);
            }
            else
            {
                await control.BindUidAsync(ws.ClientId, uid, ct);
            }
            await control.SendToUidAsync(uid, "hello " + uid, ct);
            var rounds = random.Next(1, 6);
            for (var i = 0; i < rounds; i++)
            {
                await ws.SendTextAsync($"{{\"type\":\"say\",\"group\":\"{room}\",\"text\":\"hi {i}\"}}", ct);
                await ws.DrainUntilEchoAsync(ct);
                Interlocked.Add(ref stats[1], 2);
            }
            if (random.Next(3) == 0)
            {
                await ws.SendTextAsync($"{{\"type\":\"leave\",\"group\":\"{room}\"}}", ct);
                await ws.DrainUntilEchoAsync(ct);
            }
            switch (random.Next(10))
            {
                case < 2:
                    await control.CloseClientAsync(ws.ClientId, cancellationToken: ct);
                    await ws.Closed.WaitAsync(TimeSpan.FromSeconds(5), ct);
                    Interlocked.Increment(ref stats[2]);
                    break;
                case < 5:
                    ws.Socket.Abort();
                    Interlocked.Increment(ref stats[3]);
                    break;
                default:
                    await ws.CloseAsync(ct);
                    break;
            }
        }
        finally
        {
            await ws.DisposeAsync();
        }
    }

    private static async Task ReceiveUntilAsync(TestWebSocket ws, Func<string, bool> match, CancellationToken ct)
    {
        while (!match(await ws.ReceiveTextAsync(ct)))
        {
        }
    }
}
