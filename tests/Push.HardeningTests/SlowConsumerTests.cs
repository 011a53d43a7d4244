using Push.Control;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// Clients that do not read, with the default limits and secrets: their send queue is bounded by
/// Gateway:SendQueueBytes (measured by the gateway's own accounting, GetStatus send_queue_*), the policy closes them
/// (4001) or drops their oldest messages, every drop is counted, and fast clients of the same group get everything.
/// Memory is judged by queued bytes and by the live managed heap after a full GC, not by RSS (printed only).
/// </summary>
[Trait("Category", "Integration")]
public sealed class SlowConsumerTests(ITestOutputHelper output)
{
    private const int SlowClients = 6;
    private const int FastClients = 3;
    private const int FrameBytes = 1024 + 4; // Probe.Kilobyte as a text frame: 4-byte header
    private const int Window = 24;
    private const string Group = "slowroom";

    [Theory]
    [InlineData("Close")]
    [InlineData("DropOldest")]
    public async Task SlowClient_QueueBoundedByBytes_PolicyAppliedAndCounted_FastClientsGetEverything(string policy)
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(150));
        // Default limits and credentials (TestSecrets): the configuration users run.
        await using var push = await PushProcess.StartAsync("start", ["--set", "Gateway:SlowConsumerPolicy=" + policy], cancellationToken: ct);
        using var control = push.Control();
        await Probe.UntilWorkersAsync(control, 1, ct);
        var limit = (await LocalStatusAsync(control, ct)).SendQueueBytesLimit;
        Assert.True(limit > FrameBytes, $"GetStatus send_queue_bytes_limit is {limit}");
        // Enough to fill every slow client's queue several times over, beyond what the kernel and Kestrel buffer.
        var pushes = (int)Math.Max(6000, 4 * limit / FrameBytes);

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
            // Warm-up with fast clients only, so the heap reading below is not about one-time growth.
            await PushRoundAsync(control, fast, "w", pushes, ct);
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
            var slowClosedBefore = await Probe.MetricAsync(push, "push_gateway_connections_closed_total", "slow_consumer", ct);
            var heapBefore = await ManagedHeap.LiveBytesAfterFullGcAsync(push.Pid, ct);
            var rssBefore = Probe.RssMiB(push.Pid);

            GatewayStatus atEnd;
            long maxTotal;
            await using (var sampler = new QueueSampler(control))
            {
                var got = await PushRoundAsync(control, fast, "m", pushes, ct);
                Assert.All(got, n => Assert.Equal(pushes, n)); // every fast client got every push
                atEnd = await LocalStatusAsync(control, ct);
                maxTotal = Math.Max(sampler.MaxTotal, atEnd.SendQueueBytes);
                output.WriteLine($"policy {policy}: {pushes} pushes of 1 KiB to {FastClients} fast + {SlowClients} slow clients; send queue bound {limit} B; " +
                    $"peak of one queue {atEnd.SendQueuePeakBytes} B; most queued in total {maxTotal} B over {sampler.Samples} samples; queued now {atEnd.SendQueueBytes} B");
            }

            // The bound holds for every connection (the peak is the most any one queue held since start), and it was
            // reached: the slow clients really were backed up.
            Assert.True(atEnd.SendQueuePeakBytes <= limit + FrameBytes, $"a send queue held {atEnd.SendQueuePeakBytes} B, above the {limit} B bound plus one frame");
            Assert.True(atEnd.SendQueuePeakBytes > limit - 2 * FrameBytes, $"the deepest send queue held only {atEnd.SendQueuePeakBytes} B of {limit} B: the slow clients were not backed up");
            Assert.True(maxTotal <= (FastClients + SlowClients) * (limit + FrameBytes), $"{maxTotal} B queued in total for {FastClients + SlowClients} clients of {limit} B each");

            if (policy == "Close")
            {
                // Closed with 4001: the close frame sits behind unread data, so the TCP connection is aborted when
                // the close handshake times out; either way the client is gone, and counted as a slow consumer.
                var ends = await Task.WhenAll(slow.Select(s => s.Socket.ReadUntilCloseAsync(ct)));
                foreach (var (end, i) in ends.Select((e, i) => (e, i)))
                {
                    output.WriteLine($"slow client {i}: read {slow[i].Socket.BytesRead / 1024} KiB ({end.FramesBefore} frames), then {end}");
                    Assert.True(end.CloseCode == 4001 || end.Aborted, $"slow client {i}: {end}");
                }
                foreach (var (_, id) in slow)
                {
                    await Probe.UntilAsync(async () => !await control.IsOnlineAsync(id, ct), TimeSpan.FromSeconds(15), $"slow client {id} is closed", ct);
                }
                await Probe.UntilAsync(async () => await Probe.MetricAsync(push, "push_gateway_connections_closed_total", "slow_consumer", ct) - slowClosedBefore >= SlowClients, TimeSpan.FromSeconds(10), "every slow client is counted as closed with reason slow_consumer", ct);
                var dropped = await Probe.MetricAsync(push, "push_gateway_send_queue_dropped_total", ct) - droppedBefore;
                Assert.True(dropped >= SlowClients, $"push_gateway_send_queue_dropped_total grew by {dropped}");
                Assert.Equal(SlowClients, await Probe.MetricAsync(push, "push_gateway_connections_closed_total", "slow_consumer", ct) - slowClosedBefore);
                Assert.Equal(FastClients, await control.GetAllClientCountAsync(ct));
            }
            else
            {
                // Still connected with full queues: what the gateway holds for them is in its live heap, within the
                // queued bytes it accounts for (the frames are shared, so this overstates) plus a margin for buffers.
                var heapFull = await ManagedHeap.LiveBytesAfterFullGcAsync(push.Pid, ct);
                var queued = (await LocalStatusAsync(control, ct)).SendQueueBytes;
                output.WriteLine($"live managed heap after a full GC: {ManagedHeap.MiB(heapBefore)} before the pushes, {ManagedHeap.MiB(heapFull)} with {ManagedHeap.MiB(queued)} queued");
                Assert.True(heapFull - heapBefore <= queued + HeapMargin, $"live heap grew by {ManagedHeap.MiB(heapFull - heapBefore)} while {ManagedHeap.MiB(queued)} were queued");

                // Oldest messages dropped: reading now yields the newest message last (pushed after all others; the
                // rest come from 4 pushers, in no set order); everything not received was dropped and counted, one
                // for one.
                long notReceived = 0;
                foreach (var (socket, id) in slow)
                {
                    Assert.True(await control.IsOnlineAsync(id, ct), $"slow client {id} is still online under DropOldest");
                    var got = 0;
                    var last = -1;
                    while (last != pushes - 1)
                    {
                        var f = await socket.ReadFrameAsync(ct) ?? throw new InvalidOperationException("slow client was disconnected");
                        var n = f.Opcode == WsFrames.Text ? Probe.SequenceOf("m", f.Text) : -1;
                        if (n >= 0)
                        {
                            got++;
                            last = n;
                        }
                    }
                    output.WriteLine($"slow client {id}: received {got} of {pushes} (the rest dropped), the newest last");
                    Assert.True(got < pushes, "a slow client cannot have received everything through a bounded queue");
                    notReceived += pushes - got;
                }
                await Probe.UntilAsync(async () => await Probe.MetricAsync(push, "push_gateway_send_queue_dropped_total", ct) - droppedBefore >= notReceived, TimeSpan.FromSeconds(10), $"{notReceived} drops are counted", ct);
                Assert.Equal(notReceived, await Probe.MetricAsync(push, "push_gateway_send_queue_dropped_total", ct) - droppedBefore);
                Assert.Equal(FastClients + SlowClients, await control.GetAllClientCountAsync(ct));
            }

            // Nothing is left queued once the slow clients are gone or have read, and nothing is retained for them.
            await Probe.UntilAsync(async () => (await LocalStatusAsync(control, ct)).SendQueueBytes == 0, TimeSpan.FromSeconds(15), "the gateway accounts 0 queued bytes", ct);
            var heapAfter = await ManagedHeap.LiveBytesAfterFullGcAsync(push.Pid, ct);
            var rssAfter = Probe.RssMiB(push.Pid);
            output.WriteLine($"live managed heap after a full GC {ManagedHeap.MiB(heapBefore)} -> {ManagedHeap.MiB(heapAfter)}; RSS (information only) {rssBefore:F0} -> {rssAfter:F0} MiB; slow clients were sent {SlowClients * (long)pushes / 1024} MiB in total");
            Assert.True(heapAfter - heapBefore <= HeapMargin, $"live heap grew by {ManagedHeap.MiB(heapAfter - heapBefore)} with nothing queued");
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

    /// <summary>Live-heap margin for buffers and caches that are not queued frames (pipes, HTTP/2, pools).</summary>
    private const long HeapMargin = 16L * 1024 * 1024;

    private static async Task<GatewayStatus> LocalStatusAsync(PushControlClient control, CancellationToken ct)
        => (await control.GetStatusAsync(ct)).Gateways.Single();

    /// <summary>
    /// Pushes numbered 1 KiB messages to the group from 4 pushers, keeping the fast clients within
    /// <see cref="Window"/> messages: the pushers wait for the slowest fast client (an event, not a sleep), so a
    /// CPU-starved test process is not mistaken for a slow consumer, while the clients that never read still overflow
    /// their queue. The newest message is pushed last. Returns how many distinct messages each fast client got.
    /// </summary>
    private static async Task<int[]> PushRoundAsync(PushControlClient control, List<TestWebSocket> fast, string tag, int pushes, CancellationToken ct)
    {
        var progress = new ProgressGate(fast.Count);
        var receivers = fast.Select((ws, i) => Task.Run(async () =>
        {
            var seen = new HashSet<int>();
            while (seen.Count < pushes)
            {
                var n = Probe.SequenceOf(tag, await ws.ReceiveTextAsync(ct));
                if (n >= 0 && seen.Add(n))
                {
                    progress.Set(i, seen.Count);
                }
            }
            return seen.Count;
        }, ct)).ToArray();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            int seq;
            while ((seq = Interlocked.Increment(ref next)) < pushes - 1)
            {
                await progress.WaitForAllAsync(seq - Window, ct);
                await control.SendToGroupAsync(Group, Probe.Kilobyte(tag, seq), ct);
            }
        }, ct)));
        await progress.WaitForAllAsync(pushes - 1 - Window, ct);
        await control.SendToGroupAsync(Group, Probe.Kilobyte(tag, pushes - 1), ct);
        return await Task.WhenAll(receivers);
    }

    /// <summary>Samples the gateway's total queued bytes in the background (GetStatus), keeping the largest.</summary>
    private sealed class QueueSampler : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public QueueSampler(PushControlClient control)
        {
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        var s = (await control.GetStatusAsync(_stop.Token)).Gateways.Single();
                        MaxTotal = Math.Max(MaxTotal, s.SendQueueBytes);
                        Samples++;
                        await Task.Delay(10, _stop.Token);
                    }
                    catch (Exception) when (_stop.IsCancellationRequested)
                    {
                        return;
                    }
                }
            });
        }

        public long MaxTotal { get; private set; }
        public int Samples { get; private set; }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }
    }
}

/// <summary>Counts per client, and a wait for every count to reach a value (woken by each update, no polling).</summary>
internal sealed class ProgressGate(int clients)
{
    private readonly int[] _counts = new int[clients];
    private readonly Lock _sync = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Set(int client, int count)
    {
        TaskCompletionSource changed;
        lock (_sync)
        {
            _counts[client] = count;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    public async Task WaitForAllAsync(int atLeast, CancellationToken ct)
    {
        while (true)
        {
            Task changed;
            lock (_sync)
            {
                if (_counts.Min() >= atLeast)
                {
                    return;
                }
                changed = _changed.Task;
            }
            await changed.WaitAsync(ct);
        }
    }
}
