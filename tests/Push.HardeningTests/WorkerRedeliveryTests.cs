using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// At-least-once events to workers against real processes (registry, a gateway and two demo workers, with the
/// cluster secret): clients send numbered messages at a steady rate without waiting for answers, the demo worker
/// echoes them, and one worker is killed (kill -9) while it holds unacknowledged events. Every message is answered; a
/// second answer only comes flagged redelivered; each client's first answers come in the order it sent.
/// </summary>
[Trait("Category", "Integration")]
public sealed class WorkerRedeliveryTests(ITestOutputHelper output)
{
    private const int Clients = 20;
    private const string Flag = " (redelivered)";
    private static readonly TimeSpan SendInterval = TimeSpan.FromMilliseconds(25);

    [Fact]
    public async Task WorkerKilledUnderUpstreamLoad_EveryMessageAnswered_DuplicatesFlaggedRedelivered_NoneLost()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(120));
        await using var cluster = await TestCluster.StartAsync(gateways: 1, workers: 2, ct: ct);
        var gateway = cluster.Gateways[0];
        var clients = new List<TestWebSocket>();
        var answers = new ConcurrentDictionary<(int Client, int N), int>();
        var flagged = 0;
        var unflaggedDuplicates = new ConcurrentBag<string>();
        var outOfOrder = new ConcurrentBag<string>();
        var sent = new int[Clients];
        var arrivals = Enumerable.Range(0, Clients).Select(_ => new List<string>()).ToArray();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task[] receivers = [];
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                clients.Add(await TestWebSocket.ConnectAsync(gateway.Ws, cancellationToken: ct));
            }
            receivers = clients.Select((c, i) => Task.Run(async () =>
            {
                var highest = 0;
                while (true)
                {
                    string text;
                    try
                    {
                        text = (await c.ReceiveAsync(done.Token)).Text;
                    }
                    catch (TimeoutException)
                    {
                        continue; // quiet for a while (the worker is frozen): keep listening
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
                    {
                        return;
                    }
                    var redelivered = text.EndsWith(Flag, StringComparison.Ordinal);
                    var parts = (redelivered ? text[..^Flag.Length] : text).Split(':');
                    var n = int.Parse(parts[2], CultureInfo.InvariantCulture);
                    if (redelivered)
                    {
                        Interlocked.Increment(ref flagged);
                    }
                    lock (arrivals[i])
                    {
                        arrivals[i].Add(redelivered ? $"{n}r" : $"{n}");
                    }
                    if (answers.AddOrUpdate((i, n), 1, (_, k) => k + 1) == 1)
                    {
                        if (n < highest)
                        {
                            outOfOrder.Add($"client {i}: {n} after {highest} (answers in arrival order, r = flagged redelivered: {string.Join(' ', arrivals[i])})");
                        }
                        highest = n;
                    }
                    else if (!redelivered)
                    {
                        unflaggedDuplicates.Add(text);
                    }
                }
            }, CancellationToken.None)).ToArray();
            var senders = clients.Select((c, i) => Task.Run(async () =>
            {
                for (var n = 1; !stop.IsCancellationRequested; n++)
                {
                    await c.SendTextAsync($"n:{i}:{n}", ct);
                    Volatile.Write(ref sent[i], n);
                    try
                    {
                        await Task.Delay(SendInterval, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }, CancellationToken.None)).ToArray();
            int Sent() => sent.Sum(s => Volatile.Read(ref s));

            await Probe.UntilAsync(() => answers.Count >= 10 * Clients, TimeSpan.FromSeconds(20), "every client has answers", ct);
            // Freeze one worker so it holds events it has not acknowledged (its stream stays open), then kill it.
            var victim = cluster.Workers[0];
            using (var freeze = Process.Start("kill", ["-STOP", victim.Pid.ToString(CultureInfo.InvariantCulture)]))
            {
                await freeze!.WaitForExitAsync(ct);
            }
            var atFreeze = Sent();
            await Probe.UntilAsync(() => Sent() >= atFreeze + 5 * Clients, TimeSpan.FromSeconds(20), "messages sent while the worker is frozen", ct);
            // The premise of the test, checked rather than assumed: the gateway holds events the frozen worker has not
            // acknowledged (its share of the clients sent while it was frozen).
            var victimId = System.Text.RegularExpressions.Regex.Match(victim.Output, @"Registered Worker ([0-9a-f]+)").Groups[1].Value;
            Assert.False(string.IsNullOrEmpty(victimId), "the victim's worker id is in its log");
            await Probe.UntilAsync(async () => await Probe.MetricAsync(gateway, "push_gateway_worker_queue_bytes", victimId, ct) > 0, TimeSpan.FromSeconds(20), $"the gateway holds unacknowledged events of the frozen worker {victimId}", ct);
            var killedAt = Stopwatch.StartNew();
            victim.Kill();
            await victim.WaitForExitAsync(TimeSpan.FromSeconds(10));
            var atKill = Sent();
            await Probe.UntilAsync(() => Sent() >= atKill + 20 * Clients, TimeSpan.FromSeconds(30), "traffic goes on after the kill", ct);
            await stop.CancelAsync();
            await Task.WhenAll(senders);
            var total = Sent();
            try
            {
                await Probe.UntilAsync(() => answers.Count >= total, TimeSpan.FromSeconds(30), $"every one of the {total} messages answered", ct);
            }
            catch (TimeoutException ex)
            {
                // Name what is missing (and what the gateway counted) rather than only that something is.
                var missing = Enumerable.Range(0, Clients).SelectMany(i => Enumerable.Range(1, sent[i]).Where(n => !answers.ContainsKey((i, n))).Select(n => $"{i}:{n}")).ToArray();
                var metrics = await Probe.MetricsTextAsync(gateway, ct);
                throw new TimeoutException($"{ex.Message}: {missing.Length} unanswered ({string.Join(", ", missing.Take(40))}); the gateway's worker metrics:\n{metrics}", ex);
            }
            var answeredIn = killedAt.Elapsed;
            var redelivered = await Probe.MetricAsync(gateway, "push_gateway_worker_events_redelivered_total", ct);
            var dropped = await Probe.MetricAsync(gateway, "push_gateway_worker_events_dropped_total", ct);
            output.WriteLine($"{Clients} clients sent {total} messages (one per {SendInterval.TotalMilliseconds} ms each); worker 0 frozen, then killed (kill -9): " +
                $"{answers.Count} answered ({answeredIn.TotalSeconds:F1} s after the kill all were), {flagged} answers flagged redelivered " +
                $"({answers.Values.Count(v => v > 1)} messages answered twice), gateway redelivered {redelivered} events, dropped {dropped}");

            var lost = Enumerable.Range(0, Clients).SelectMany(i => Enumerable.Range(1, sent[i]).Where(n => !answers.ContainsKey((i, n))).Select(n => $"{i}:{n}")).ToArray();
            Assert.True(lost.Length == 0, $"lost: {string.Join(", ", lost.Take(20))}");
            Assert.Empty(unflaggedDuplicates);
            Assert.True(outOfOrder.IsEmpty, string.Join("\n", outOfOrder.Take(3)));
            Assert.True(flagged > 0, "the frozen worker held events: some answers come from their redelivery");
            Assert.True(redelivered > 0, "the gateway counts what it redelivered");
            Assert.Equal(0, dropped);
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException(ex.Message + "\n" + cluster.AllOutput(), ex);
        }
        finally
        {
            await stop.CancelAsync();
            await done.CancelAsync();
            await Task.WhenAll(receivers);
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }
}
