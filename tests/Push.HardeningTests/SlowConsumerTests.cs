using System.Diagnostics;
using Push.Control;
using Push.Testing;
using Microsoft.Extensions.DependencyInjection;
using Push.Worker;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// Clients that do not read: their send queue is bounded (Gateway:SendQueueBytes), the policy closes them (4001) or
/// drops their oldest messages, fast clients of the same group are never held up, and the gateway's memory stays flat.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SlowConsumerTests(ITestOutputHelper output)
{
    private const int SlowClients = 6;
    private const int FastClients = 3;
    private const int Pushes = 6000; // 1 KiB each: ~6 MiB per client, ~100x the 64 KiB queue bound
    private const string Group = "slowroom";

    [Theory]
    [InlineData("Close")]
    [InlineData("DropOldest")]
    public async Task SlowClient_IsBounded_FastClientsGetEverything(string policy)
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(90));
        await using var push = await PushProcess.StartAsync("start", ["--set", "Gateway:SendQueueBytes=65536", "--set", "Gateway:MaxPushSize=32768", "--set", "Gateway:SlowConsumerPolicy=" + policy], cancellationToken: ct);
        using var control = push.Control();
        await Probe.UntilWorkersAsync(control, 1, ct);

        var fast = new List<TestWebSocket>();
        var slow = new List<(RawWebSocket Socket, string ClientId)>();
        try
        {
            for (var i = 0; i < FastClients; i++)
            {
                var ws = await TestWebSocket.ConnectAsync(push.Ws, cancellationToken: ct);
                fast.Add(ws);
                await control.JoinGroupAsync(ws.ClientId, Group, ct);
            }
            // Warm-up: the same load once with fast clients only, so that the RSS comparison below is not about
            // one-time growth (thread pool, buffer pools, GC budgets).
            await PushRoundAsync(control, fast, "w", ct);
            for (var i = 0; i < SlowClients; i++)
            {
                // A 4 KiB receive window: the kernel buffers little, so the gateway's queue fills quickly.
                var raw = await RawWebSocket.ConnectAsync(push.Ws, receiveBuffer: 4096, ct: ct);
                var greeting = await raw.ReadTextUntilAsync(t => t.Contains("clientId", StringComparison.Ordinal), ct);
                var id = Probe.ClientIdPattern().Match(greeting).Groups[1].Value;
                await control.JoinGroupAsync(id, Group, ct);
                slow.Add((raw, id));
            }
            var droppedBefore = await Probe.MetricAsync(push, "push_gateway_send_queue_dropped_total", ct);
            var rssBefore = Probe.RssMiB(push.Pid);

            // Fast clients count what they get while the pushes run.
            var clock = Stopwatch.StartNew();
            var progress = new int[fast.Count];
            var receivers = fast.Select((ws, i) => Task.Run(async () =>
            {
                var seen = new HashSet<int>();
                while (seen.Count < Pushes)
                {
                    var n = Probe.SequenceOf("m", await ws.ReceiveTextAsync(ct));
                    if (n >= 0 && seen.Add(n))
                    {
                        Volatile.Write(ref progress[i], seen.Count);
                    }
                }
                return clock.Elapsed;
            }, ct)).ToArray();

            var next = -1;
            var pushers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                int seq;
                while ((seq = Interlocked.Increment(ref next)) < Pushes - 1)
                {
                    // Keep the fast clients within a window (see PushRoundAsync); the slow ones never read at all.
                    while (progress.Min() < seq - 24)
                    {
                        ct.ThrowIfCancellationRequested();
                        await Task.Delay(1, ct);
                    }
                    await control.SendToGroupAsync(Group, Probe.Kilobyte("m", seq), ct);
                }
            }, ct)).ToArray();
            await Task.WhenAll(pushers);
            await control.SendToGroupAsync(Group, Probe.Kilobyte("m", Pushes - 1), ct); // the newest, last
            var pushTime = clock.Elapsed;
            var fastTimes = await Task.WhenAll(receivers);
            var maxQueue = await Probe.MetricAsync(push, "push_gateway_send_queue_max_depth", ct);
            output.WriteLine($"policy {policy}: {Pushes} pushes of 1 KiB to {FastClients} fast + {SlowClients} slow clients in {pushTime.TotalSeconds:F1} s; fast clients had all {Pushes} after {string.Join(", ", fastTimes.Select(t => t.TotalSeconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} s; deepest send queue now {maxQueue}");
            Assert.All(fastTimes, t => Assert.True(t - pushTime < TimeSpan.FromSeconds(5), $"a fast client got the last message {(t - pushTime).TotalSeconds:F1} s after the last push"));

            var dropped = await Probe.MetricAsync(push, "push_gateway_send_queue_dropped_total", ct) - droppedBefore;
            Assert.True(dropped >= SlowClients, $"push_gateway_send_queue_dropped_total grew by {dropped}");
            if (policy == "Close")
            {
                // Closed with 4001: the close frame sits behind unread data, so the TCP connection is aborted when
                // the close handshake times out (3 s); either way the client is gone.
                foreach (var (_, id) in slow)
                {
                    await Probe.UntilAsync(async () => !await control.IsOnlineAsync(id, ct), TimeSpan.FromSeconds(15), $"slow client {id} is closed", ct);
                }
                var ends = await Task.WhenAll(slow.Select(s => s.Socket.ReadUntilCloseAsync(ct)));
                foreach (var (end, i) in ends.Select((e, i) => (e, i)))
                {
                    output.WriteLine($"slow client {i}: read {slow[i].Socket.BytesRead / 1024} KiB ({end.FramesBefore} frames), then {end}");
                    Assert.True(end.CloseCode == 4001 || end.Aborted, $"slow client {i}: {end}");
                }
                Assert.Equal(FastClients, await control.GetAllClientCountAsync(ct));
            }
            else
            {
                // Still connected, oldest messages dropped: reading now yields the newest message last.
                foreach (var (socket, id) in slow)
                {
                    Assert.True(await control.IsOnlineAsync(id, ct), $"slow client {id} is still online under DropOldest");
                    var got = 0;
                    var last = -1;
                    while (last != Pushes - 1)
                    {
                        var f = await socket.ReadFrameAsync(ct) ?? throw new InvalidOperationException("slow client was disconnected");
                        var n = f.Opcode == WsFrames.Text ? Probe.SequenceOf("m", f.Text) : -1;
                        if (n >= 0)
                        {
                            got++;
                            last = n;
                        }
                    }
                    output.WriteLine($"slow client {id}: received {got} of {Pushes} (the rest dropped), the newest last");
                    Assert.True(got < Pushes, "the slow client cannot have received everything through a 64 KiB queue");
                }
                Assert.Equal(FastClients + SlowClients, await control.GetAllClientCountAsync(ct));
            }
            var rssAfter = Probe.RssMiB(push.Pid);
            var status = await control.GetStatusAsync(ct);
            output.WriteLine($"dropped (metric push_gateway_send_queue_dropped_total): {dropped}; GetStatus messages_dropped: {status.Gateways[0].MessagesDropped}; RSS {rssBefore:F0} -> {rssAfter:F0} MiB (slow clients were sent {SlowClients * Pushes / 1024} MiB in total)");
            Assert.True(maxQueue <= 64, $"a send queue holds {maxQueue} messages, above the 64 KiB bound");
            Assert.True(rssAfter - rssBefore < 24, $"gateway RSS grew from {rssBefore:F0} to {rssAfter:F0} MiB");
        }
        finally
        {
            foreach (var ws in fast)
            {
                await ws.DisposeAsync();
            }
            foreach (var (socket, _) in slow)
            {
                socket.Dispose();
            }
        }
    }

    private static async Task PushRoundAsync(PushControlClient control, List<TestWebSocket> fast, string tag, CancellationToken ct)
    {
        // Fast clients must never be more than Window messages behind: the pushers wait for the slowest fast client, so
        // a CPU-starved test process (CI runs test assemblies in parallel on two cores) is not mistaken for a slow
        // consumer, while the clients that never read still overflow their 64 KiB queue.
        const int Window = 24;
        var received = new int[fast.Count];
        var receivers = fast.Select((ws, i) => Task.Run(async () =>
        {
            while (Volatile.Read(ref received[i]) < Pushes)
            {
                if (Probe.SequenceOf(tag, await ws.ReceiveTextAsync(ct)) >= 0)
                {
                    Interlocked.Increment(ref received[i]);
                }
            }
        }, ct)).ToArray();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            int seq;
            while ((seq = Interlocked.Increment(ref next)) < Pushes)
            {
                while (received.Min() < seq - Window)
                {
                    ct.ThrowIfCancellationRequested();
                    await Task.Delay(1, ct);
                }
                await control.SendToGroupAsync(Group, Probe.Kilobyte(tag, seq), ct);
            }
        }, ct)));
        await Task.WhenAll(receivers);
    }

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
        var rssBefore = Probe.RssMiB(gateway.Pid);

        // The worker holds the first message: every later one has to wait somewhere bounded.
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
        var rssStalled = Probe.RssMiB(gateway.Pid);
        output.WriteLine($"flood: the client could write {written / (1024.0 * 1024):F1} MiB ({written / frame.Length} messages of 1 KiB) before its socket stalled; gateway RSS {rssBefore:F0} -> {rssStalled:F0} MiB; worker held {gate.Held} message(s)");
        Assert.True(stalled, $"the client wrote {written} bytes without ever being held back");
        Assert.True(rssStalled - rssBefore < 64, $"gateway RSS grew from {rssBefore:F0} to {rssStalled:F0} MiB while the worker was stalled");

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
