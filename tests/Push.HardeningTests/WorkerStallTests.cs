using Microsoft.Extensions.DependencyInjection;
using Push.Control;
using Push.Testing;
using Push.Worker;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// A client floods while its worker is stalled: the gateway holds a bounded amount and the client's socket is held
/// back (backpressure to its TCP window). Judged by the gateway's live managed heap after a full GC, not by RSS.
/// </summary>
[Trait("Category", "Integration")]
public sealed class WorkerStallTests(ITestOutputHelper output)
{
    /// <summary>What the gateway may hold beyond its baseline: its queue of 64 events of 1 KiB, pipes, HTTP/2 buffers.</summary>
    private const long HeapBound = 16L * 1024 * 1024;

    [Fact]
    public async Task ClientFlood_WithStalledWorker_IsBackpressured()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(90));
        await using var registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        await using var gateway = await PushProcess.StartAsync("gateway", ["--registry", registry.GrpcAddress, "--set", "Gateway:WorkerQueueCapacity=64"], cancellationToken: ct);
        var gate = new WorkerGate();
        var workerOptions = new PushWorkerHostOptions { Secret = TestSecrets.Member };
        workerOptions.Registry.Add(registry.GrpcAddress);
        await using var worker = PushWorkerHost.Create<GatedEchoEvents>(workerOptions, s =>
        {
            s.AddSingleton(gate);
            s.Configure<WorkerOptions>(o =>
            {
                o.QueueCapacity = 16;
                o.Concurrency = 2;
            });
        });
        await worker.StartAsync(ct);
        using var control = gateway.Control();
        await Probe.UntilWorkersAsync(control, 1, ct);

        using var flood = await RawWebSocket.ConnectAsync(gateway.Ws, ct: ct);
        await flood.ReadTextUntilAsync(t => t.Contains("clientId", StringComparison.Ordinal), ct);
        var heapBefore = await ManagedHeap.LiveBytesAfterFullGcAsync(gateway.Pid, ct);
        var rssBefore = Probe.RssMiB(gateway.Pid);

        // The worker holds the first message: every later one has to wait somewhere bounded. A send that makes no
        // progress for 2 s means the socket is held back (a generous deadline: the flood runs at memory speed).
        var frame = WsFrames.Build(WsFrames.Text, System.Text.Encoding.UTF8.GetBytes(new string('f', 1024)));
        const long limit = 256L * 1024 * 1024;
        long written = 0;
        var stalled = false;
        while (written < limit)
        {
            using var sendTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            sendTimeout.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                await flood.SendAsync(frame, sendTimeout.Token);
                written += frame.Length;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                stalled = true;
                break;
            }
        }
        var heapStalled = await ManagedHeap.LiveBytesAfterFullGcAsync(gateway.Pid, ct);
        var rssStalled = Probe.RssMiB(gateway.Pid);
        output.WriteLine($"flood: the client could write {written / (1024.0 * 1024):F1} MiB ({written / frame.Length} messages of 1 KiB) before its socket stalled; " +
            $"gateway live heap after a full GC {ManagedHeap.MiB(heapBefore)} -> {ManagedHeap.MiB(heapStalled)}; RSS (information only) {rssBefore:F0} -> {rssStalled:F0} MiB; worker held {gate.Held} message(s)");
        Assert.True(stalled, $"the client wrote {written} bytes without ever being held back");
        Assert.True(gate.Held >= 1, "the worker never got the first message");
        Assert.True(heapStalled - heapBefore < HeapBound, $"the gateway's live heap grew by {ManagedHeap.MiB(heapStalled - heapBefore)} while the worker was stalled");

        // Release the worker: the gateway recovers and serves a new client.
        flood.Reset();
        gate.Open();
        await using var good = await TestWebSocket.ConnectAsync(gateway.Ws, cancellationToken: ct);
        await good.DrainUntilEchoAsync(ct);
        await Probe.UntilAsync(async () => await control.GetAllClientCountAsync(ct) == 1, TimeSpan.FromSeconds(20), "only the good client is left", ct);
        await worker.StopAsync(CancellationToken.None);
    }
}

/// <summary>Holds worker callbacks until opened.</summary>
internal sealed class WorkerGate
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _held;

    public int Held => Volatile.Read(ref _held);

    public async ValueTask PassAsync()
    {
        if (_open.Task.IsCompleted)
        {
            return;
        }
        Interlocked.Increment(ref _held);
        await _open.Task.ConfigureAwait(false);
    }

    public void Open() => _open.TrySetResult();
}

/// <summary>A worker that greets like the demo worker and echoes, once its gate is open.</summary>
internal sealed class GatedEchoEvents(WorkerGate gate) : BusinessEvents
{
    public override ValueTask OnConnectAsync(ClientContext client)
    {
        client.SendToCurrentClient("{\"clientId\":\"" + client.ClientId + "\"}");
        return ValueTask.CompletedTask;
    }

    public override async ValueTask OnMessageAsync(ClientContext client, ClientMessage message)
    {
        await gate.PassAsync().ConfigureAwait(false);
        if (message.IsText)
        {
            client.SendToCurrentClient(message.Text!);
        }
    }
}
