using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using Push.Control;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// Memory bounded by bytes with the configuration users run (default limits, member and control secrets set): a stalled worker makes the
/// gateway hold at most Gateway:WorkerQueueBytes towards it and push back on the client's TCP; a push of exactly
/// Gateway:MaxPushSize reaches a healthy client.
/// </summary>
[Trait("Category", "Integration")]
public sealed class WorkerLinkBudgetTests(ITestOutputHelper output)
{
    private const long DefaultWorkerQueueBytes = 16L * 1024 * 1024;
    private const int DefaultMaxMessageSize = 64 * 1024;
    private const int DefaultMaxPushSize = 1024 * 1024;

    [Fact]
    public async Task StalledWorker_ClientWrites256MiB_LinkBytesStayWithinTheDefaultBudget()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        await using var gateway = await PushProcess.StartAsync("gateway", ["--registry", registry.GrpcAddress], cancellationToken: ct);
        await using var worker = await PushProcess.StartAsync("worker", ["--registry", registry.GrpcAddress], cancellationToken: ct);
        using var control = gateway.Control(); // the backend credential (every test process runs with member and control secrets)
        await Probe.UntilAsync(async () => (await control.GetStatusAsync(ct)).Gateways.Single().WorkersConnected == 1, TimeSpan.FromSeconds(30), "the gateway has its worker stream open", ct);

        using var flood = await RawWebSocket.ConnectAsync(gateway.Ws, ct: ct);
        await flood.ReadTextUntilAsync(t => t.Contains("clientId", StringComparison.Ordinal), ct);
        var rssBefore = Probe.RssMiB(gateway.Pid);
        var heapBefore = await Probe.MetricAsync(gateway, "dotnet_gc_last_collection_heap_size_bytes", ct);
        var droppedBefore = await Probe.MetricAsync(gateway, "push_gateway_worker_events_dropped_total", ct);

        Signal(worker, "STOP");
        var sampler = new Sampler(gateway, control);
        var samples = sampler.RunAsync(ct);
        long written = 0;
        var longestSend = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        long liveWhileHeld;
        try
        {
            // 64 KiB text frames (Gateway:MaxMessageSize), 256 MiB in all: as the reproduction.
            var frame = WsFrames.Build(WsFrames.Text, Encoding.UTF8.GetBytes(new string('f', DefaultMaxMessageSize)));
            const long Total = 256L * 1024 * 1024;
            var writing = Task.Run(async () =>
            {
                while (written < Total)
                {
                    var t = Stopwatch.GetTimestamp();
                    await flood.SendAsync(frame, ct);
                    written += DefaultMaxMessageSize;
                    var took = Stopwatch.GetElapsedTime(t);
                    if (took > longestSend)
                    {
                        longestSend = took;
                    }
                }
            }, ct);
            // Once a client read waits for room the link holds its whole budget: the gateway's live heap then (after a
            // full GC, so it does not depend on this machine's GC budgets) is the memory the stalled worker costs.
            await Probe.UntilAsync(() => sampler.MaxWaiting >= 1 || writing.IsCompleted, TimeSpan.FromSeconds(60), "a client read waits for room in the worker link", ct);
            liveWhileHeld = await ManagedHeap.LiveBytesAfterFullGcAsync(gateway.Pid, ct);
            await writing;
        }
        finally
        {
            sampler.Stop();
            await samples;
            Signal(worker, "CONT");
        }
        var rssAfter = Probe.RssMiB(gateway.Pid);
        var heapAfter = await Probe.MetricAsync(gateway, "dotnet_gc_last_collection_heap_size_bytes", ct);
        var dropped = await Probe.MetricAsync(gateway, "push_gateway_worker_events_dropped_total", ct) - droppedBefore;

        output.WriteLine($"client wrote {written / (1024 * 1024)} MiB of 64 KiB text frames in {clock.Elapsed.TotalSeconds:F1} s (longest single send {longestSend.TotalSeconds:F1} s) while the worker was stopped");
        output.WriteLine($"gateway accounting over {sampler.Count} samples: worker link bytes max {sampler.MaxLinkBytes / (1024.0 * 1024):F2} MiB (budget {DefaultWorkerQueueBytes / (1024 * 1024)} MiB), GetStatus worker_queue_bytes max {sampler.MaxStatusBytes / (1024.0 * 1024):F2} MiB, events waiting for room max {sampler.MaxWaiting}; events dropped (no worker) {dropped}");
        output.WriteLine($"gateway RSS {rssBefore:F0} -> {rssAfter:F0} MiB (+{rssAfter - rssBefore:F0}, peak sampled {sampler.MaxRss:F0}); managed heap after last GC {heapBefore / (1024 * 1024):F0} -> {heapAfter / (1024 * 1024):F0} MiB (peak sampled {sampler.MaxHeap / (1024 * 1024):F0}); live heap while the link was full {ManagedHeap.MiB(liveWhileHeld)}");

        Assert.True(sampler.Count > 0, "no sample of the gateway's metrics was taken");
        Assert.True(sampler.MaxLinkBytes <= DefaultWorkerQueueBytes, $"worker link held {sampler.MaxLinkBytes} bytes, above Gateway:WorkerQueueBytes");
        Assert.True(sampler.MaxStatusBytes <= DefaultWorkerQueueBytes, $"GetStatus worker_queue_bytes {sampler.MaxStatusBytes}, above Gateway:WorkerQueueBytes");
        Assert.True(sampler.MaxLinkBytes > 0 || sampler.MaxStatusBytes > 0, "the stalled worker's link never held anything: the flood did not reach it");
        Assert.True(sampler.MaxWaiting >= 1, "no client read ever waited for room in the worker link (no backpressure)");
        // Live managed heap while the link was full: the link's budget, held as UTF-16 text (twice its bytes), plus a
        // margin for everything else; before the byte budget it reached hundreds of MiB.
        Assert.True(liveWhileHeld <= 2 * DefaultWorkerQueueBytes + 32 * 1024 * 1024, $"live managed heap was {ManagedHeap.MiB(liveWhileHeld)} while the link was full");
        // Everything the client wrote was either queued for the worker (at most the budget) or counted when the link
        // to the stopped worker ended.
        Assert.True(dropped > 0, "the events of the stalled worker's link were not counted when it ended");

        // The worker comes back: a new client is served again.
        await Probe.UntilAsync(async () => (await control.GetStatusAsync(ct)).Gateways.Single().WorkersConnected == 1, TimeSpan.FromSeconds(60), "the gateway reopened its worker stream", ct);
        await using var good = await TestWebSocket.ConnectAsync(gateway.Ws, cancellationToken: ct);
        Assert.NotEmpty(good.ClientId);
    }

    [Fact]
    public async Task PushOfExactlyMaxPushSize_DefaultLimits_ReachesAHealthyClient()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var push = await PushProcess.StartAsync("start", cancellationToken: ct);
        using var control = push.Control();
        await using var ws = await TestWebSocket.ConnectAsync(push.Ws, cancellationToken: ct);
        var binary = new byte[DefaultMaxPushSize];
        binary.AsSpan().Fill(0x5A);
        var text = new string('t', DefaultMaxPushSize);

        Assert.Equal(1, await control.SendToClientAsync(ws.ClientId, binary, ct));
        Assert.Equal(1, await control.SendToClientAsync(ws.ClientId, text, ct));

        var first = await ReceiveNotGreetingAsync(ws, ct);
        var second = await ReceiveNotGreetingAsync(ws, ct);
        Assert.Equal(WebSocketMessageType.Binary, first.Type);
        Assert.Equal(binary, first.Data);
        Assert.Equal(text, second.Text);
        Assert.True(await control.IsOnlineAsync(ws.ClientId, ct), "the client was closed after a push within limits");
        Assert.Equal(0, await Probe.MetricAsync(push, "push_gateway_pushes_undelivered_total", ct));
    }

    private static async Task<ReceivedMessage> ReceiveNotGreetingAsync(TestWebSocket ws, CancellationToken ct)
    {
        while (true)
        {
            var m = await ws.ReceiveAsync(ct);
            if (m.Type == WebSocketMessageType.Binary || m.Data.Length > 1024)
            {
                return m;
            }
        }
    }

    private static void Signal(PushProcess p, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", p.Pid.ToString(CultureInfo.InvariantCulture)]);
        kill!.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Reads the gateway's own accounting (metrics, GetStatus) and its RSS while a flood runs.</summary>
    private sealed class Sampler(PushProcess gateway, PushControlClient control)
    {
        private readonly CancellationTokenSource _stop = new();

        public int Count { get; private set; }
        public double MaxLinkBytes { get; private set; }
        public long MaxStatusBytes { get; private set; }
        public double MaxWaiting { get; private set; }
        public double MaxRss { get; private set; }
        public double MaxHeap { get; private set; }

        public void Stop() => _stop.Cancel();

        public async Task RunAsync(CancellationToken ct)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            try
            {
                while (await timer.WaitForNextTickAsync(linked.Token))
                {
                    MaxLinkBytes = Math.Max(MaxLinkBytes, await Probe.MetricAsync(gateway, "push_gateway_worker_queue_bytes", linked.Token));
                    MaxWaiting = Math.Max(MaxWaiting, await Probe.MetricAsync(gateway, "push_gateway_worker_queue_waiting", linked.Token));
                    MaxHeap = Math.Max(MaxHeap, await Probe.MetricAsync(gateway, "dotnet_gc_last_collection_heap_size_bytes", linked.Token));
                    MaxStatusBytes = Math.Max(MaxStatusBytes, (await control.GetStatusAsync(linked.Token)).Gateways.Single().WorkerQueueBytes);
                    MaxRss = Math.Max(MaxRss, Probe.RssMiB(gateway.Pid));
                    Count++;
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.Cancelled && _stop.IsCancellationRequested)
            {
                // Stopped while a GetStatus was in flight: gRPC reports the cancellation as CANCELLED.
            }
        }
    }
}
