using System.Diagnostics;
using System.Globalization;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// A worker whose gateway dies while the worker holds a backlog: the stream's lanes stop at once (what they held is
/// counted) and SIGTERM then stops the worker within a second, instead of waiting on lanes blocked behind a dead
/// writer for the whole drain timeout.
/// </summary>
[Trait("Category", "Integration")]
public sealed class WorkerStopTests(ITestOutputHelper output)
{
    private const int Clients = 32;

    [Fact]
    public async Task GatewayKilledWithBacklog_WorkerExitsWithinOneSecondOfSigterm()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(120));
        // Every process runs with the member secret (and the gateway with the control secret): PushProcess's default.
        await using var registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        await using var worker = await PushProcess.StartAsync("worker", ["--registry", registry.GrpcAddress], cancellationToken: ct);
        await using var gateway = await PushProcess.StartAsync("gateway", ["--registry", registry.GrpcAddress], cancellationToken: ct);
        Assert.Contains("--secret", gateway.Description, StringComparison.Ordinal);
        Assert.Contains("--secret", worker.Description, StringComparison.Ordinal);
        using var control = gateway.Control();
        await Probe.UntilAsync(async () => (await control.GetStatusAsync(ct)).Gateways.All(g => g.WorkersConnected == 1), TimeSpan.FromSeconds(20), "the gateway has its worker stream open", ct);

        // Clients flood the demo worker with messages it echoes; every client reads what it gets.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sockets = new List<RawWebSocket>();
        var loops = new List<Task>();
        var frames = Frames();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var raw = await RawWebSocket.ConnectAsync(gateway.Ws, ct: ct);
                await raw.ReadTextUntilAsync(t => t.Contains("clientId", StringComparison.Ordinal), ct);
                sockets.Add(raw);
            }
            foreach (var raw in sockets)
            {
                loops.Add(Task.Run(() => ReadAllAsync(raw, stop.Token), CancellationToken.None));
                loops.Add(Task.Run(() => FloodAsync(raw, frames, stop.Token), CancellationToken.None));
            }
            // The gateway hangs first (SIGSTOP, as a stuck pod before its liveness probe kills it): it stops reading the
            // worker's commands, so the worker's command queue fills (Worker:QueueCapacity, 4,096) and its lanes wait
            // behind it with the events already received.
            double queued = 0, commands = 0;
            var samples = new List<string>();
            await Probe.UntilAsync(async () => await Probe.MetricAsync(worker, "push_worker_events_total", ct) > 50_000, TimeSpan.FromSeconds(60), "the flood runs", ct);
            Signal(gateway, "STOP");
            await Probe.UntilAsync(async () =>
            {
                queued = await Probe.MetricAsync(worker, "push_worker_events_queued", ct);
                commands = await Probe.MetricAsync(worker, "push_worker_commands_queued", ct);
                samples.Add($"{queued}/{commands}");
                return commands >= 4096 && queued > 0;
            }, TimeSpan.FromSeconds(30), "the worker's command queue is full and its lanes hold events", ct).ContinueWith(t => t.IsFaulted ? throw new TimeoutException(string.Join(" ", samples.TakeLast(20)), t.Exception) : t, TaskScheduler.Default).Unwrap();
            output.WriteLine($"backlog before the kill: {queued} events queued in the worker's lanes, {commands} commands waiting for the hung gateway");

            var sinceKill = Stopwatch.StartNew();
            gateway.Kill(); // kill -9 works on a stopped process
            await gateway.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await stop.CancelAsync();
            double unhandled = 0;
            await Probe.UntilAsync(async () => (unhandled = await Probe.MetricAsync(worker, "push_worker_events_unhandled_total", ct)) > 0, TimeSpan.FromSeconds(10), "the worker counted the events its dead gateway left", ct);
            var streamEnded = sinceKill.Elapsed;
            Assert.Equal(0, await Probe.MetricAsync(worker, "push_worker_gateway_streams_open", ct));
            var dropped = await Probe.MetricAsync(worker, "push_worker_commands_dropped_total", ct);
            output.WriteLine($"gateway killed: {sinceKill.Elapsed.TotalSeconds:F2} s later the worker had ended the stream, counted {unhandled} event(s) unhandled and {dropped} command(s) dropped");

            var clock = Stopwatch.StartNew();
            worker.Terminate();
            var code = await worker.WaitForExitAsync(TimeSpan.FromSeconds(40));
            var took = clock.Elapsed;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SIGTERM -> exit {code} in {took.TotalSeconds:F2} s (stream ended {streamEnded.TotalSeconds:F2} s after the kill)"));
            Assert.True(unhandled >= 1, "the events left in the lanes are counted");
            Assert.Equal(0, code);
            Assert.True(took < TimeSpan.FromSeconds(1), $"the worker took {took.TotalSeconds:F2} s to exit after SIGTERM:\n{Tail(worker.Output)}");
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{ex.Message}\n===== worker\n{Tail(worker.Output)}\n===== gateway\n{Tail(gateway.Output)}", ex);
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var s in sockets)
            {
                s.Dispose();
            }
            await Task.WhenAll(loops);
        }
    }

    /// <summary>One write of many frames: messages the demo worker echoes.</summary>
    private static byte[] Frames()
    {
        var echo = WsFrames.TextFrame("e");
        using var buffer = new MemoryStream();
        for (var i = 0; i < 400; i++)
        {
            buffer.Write(echo);
        }
        return buffer.ToArray();
    }

    private static void Signal(PushProcess p, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", p.Pid.ToString(CultureInfo.InvariantCulture)]);
        kill?.WaitForExit();
    }

    private static async Task FloodAsync(RawWebSocket raw, byte[] frames, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await raw.SendAsync(frames, ct);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // stopped, or the gateway is gone
        }
    }

    private static async Task ReadAllAsync(RawWebSocket raw, CancellationToken ct)
    {
        try
        {
            while (await raw.ReadFrameAsync(ct) is { Opcode: not WsFrames.Close })
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // stopped, or the gateway is gone
        }
    }

    private static string Tail(string s) => s.Length > 6000 ? s[^6000..] : s;
}
