using System.Diagnostics;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;
using static Push.ClusterTests.Cluster;

namespace Push.ClusterTests;

/// <summary>
/// Workers die and appear while clients talk: connections move to the remaining workers without closing, a new worker
/// takes new connections, and with no worker the gateways keep their clients and say so.
/// </summary>
[Trait("Category", "Integration")]
public sealed class WorkerFailoverTests(ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    private const string WorkerMessages = "push_worker_events_total";

    [Fact]
    public async Task KilledWorker_ItsConnectionsMove_NewWorkerIsUsed_NoWorkerKeepsClients()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var clients = new List<TestWebSocket>();
        try
        {
            // Four clients per gateway: each gateway pins them to the least-loaded worker, two on each.
            foreach (var gw in cluster.Gateways)
            {
                for (var i = 0; i < 4; i++)
                {
                    clients.Add(await TestWebSocket.ConnectAsync(gw.Ws, cancellationToken: ct));
                }
            }
            var (w1, w2) = (cluster.Workers[0], cluster.Workers[1]);
            var w1Id = (await cluster.Controls[0].GetStatusAsync(ct)).Workers.Single(w => w.Address == w1.GrpcAddress).Id;
            Assert.Equal(2 * ClusterFixture.GatewayCount, await MetricAsync(w1, WorkerMessages, "push_event=\"connect\"", ct));
            Assert.Equal(2 * ClusterFixture.GatewayCount, await MetricAsync(w2, WorkerMessages, "push_event=\"connect\"", ct));

            // 1. kill -9 one worker while every client sends and waits for its echo.
            var traffic = new EchoTraffic(clients);
            traffic.Start(ct);
            await WaitUntilAsync(() => Task.FromResult(traffic.Answered >= 3 * clients.Count), "every client had answers before the kill", ct);
            // /metrics is cached for a moment: poll until the worker to be killed shows its share of the traffic.
            double w1Before = 0;
            await WaitUntilAsync(async () => (w1Before = await MetricAsync(w1, WorkerMessages, "push_event=\"message\"", ct)) > 0, "the worker to be killed handles part of the traffic", ct);
            var killedAt = traffic.Now;
            var killedClock = DateTime.Now;
            w1.Kill();
            // Watched from the kill on, beside the traffic: when every gateway has dropped the worker from its view.
            var lapseWatch = WaitUntilAsync(async () => await AllGatewaysSeeAsync(1, ct), "every gateway lists one worker", ct);
            await WaitUntilAsync(() => Task.FromResult(traffic.Answered >= traffic.Sent - clients.Count && traffic.Now > killedAt + TimeSpan.FromSeconds(2)), "traffic ran for 2 s after the kill", ct);
            var w2Before = await MetricAsync(w2, WorkerMessages, "push_event=\"message\"", ct);
            await WaitUntilAsync(async () => await MetricAsync(w2, WorkerMessages, "push_event=\"message\"", ct) >= w2Before + clients.Count, "the surviving worker answers every client", ct);
            await traffic.StopAsync(ct);

            var lost = traffic.Lost;
            output.WriteLine($"worker kill -9 under traffic ({clients.Count} clients, one message in flight each): sent {traffic.Sent}, answered {traffic.Answered}, LOST {lost.Count}" +
                (lost.Count > 0 ? $" (sent {string.Join(", ", lost.Select(l => Ms(l.SentAt - killedAt)))} after the kill)" : string.Empty));
            output.WriteLine($"  the killed worker had handled {w1Before} messages; unexpected frames: {traffic.Unexpected.Count}");
            // When each gateway noticed: its stream to the worker failed, or (had the lease lapsed first) the worker left.
            var noticed = cluster.Gateways.Select(g => new[] { FirstLogAt(g, $"Worker stream to {w1Id} at {w1.GrpcAddress} failed", killedClock), FirstLogAt(g, $"Worker {w1Id} left the cluster", killedClock) }.Where(t => t is not null).Min()).ToArray();
            output.WriteLine($"  each gateway saw the worker stream fail {string.Join(", ", noticed.Select(n => n is null ? "(not logged)" : Ms(n.Value - killedClock)))} after the kill (log timestamps, ms resolution)");
            Assert.True(w1Before > 0, "the killed worker handled none of the traffic");
            output.WriteLine($"  answers flagged redelivered: {traffic.Redelivered} (second answers: {traffic.Duplicates})");
            // At-least-once events: what the killed worker had not acknowledged went to the surviving one, flagged.
            Assert.True(lost.Count == 0, $"{lost.Count} messages lost: {string.Join(", ", lost.Select(l => l.Payload))}");
            // Nothing sent after every gateway noticed the failure is lost (an event, the gateways' own log line, not a
            // fixed time after the kill). Log timestamps have ms resolution: 50 ms of slack between the two clocks.
            Assert.All(noticed, n => Assert.NotNull(n));
            var allNoticed = noticed.Max(n => n!.Value);
            Assert.Equal(0, traffic.LostSentAfter(killedAt + (allNoticed - killedClock) + TimeSpan.FromMilliseconds(50)));
            Assert.Empty(traffic.Unexpected);
            foreach (var (c, i) in clients.Select((c, i) => (c, i)))
            {
                AssertOpen(c, $"client {i}");
            }

            // The killed worker's lease lapses: every gateway lists one worker.
            var lapse = await lapseWatch;
            await cluster.WaitForClusterAsync(ClusterFixture.GatewayCount, 1, ct);
            output.WriteLine($"worker lease lapse: gone from every gateway's view {Ms(lapse)} after kill -9 (lease {ClusterFixture.LeaseTtl.TotalSeconds} s)");
            // Dropped by the registry because its lease lapsed (the registry's log says so); the wait's own deadline
            // bounds how long that took.
            Assert.Contains($"Member {w1Id} dropped: its lease lapsed", string.Concat(cluster.Registries.Select(r => r.Output)), StringComparison.Ordinal);

            // 2. A new worker: streams open on every gateway, and it gets the next connections (it has none pinned).
            var sinceLaunch = Stopwatch.StartNew();
            var w3 = await cluster.StartWorkerAsync(ct);
            var launchToReady = sinceLaunch.Elapsed;
            var sinceReady = Stopwatch.StartNew();
            await cluster.WaitForClusterAsync(ClusterFixture.GatewayCount, 2, ct);
            var streamsOpen = sinceReady.Elapsed;
            var fresh = new List<TestWebSocket>();
            foreach (var gw in cluster.Gateways)
            {
                fresh.Add(await TestWebSocket.ConnectAsync(gw.Ws, cancellationToken: ct));
            }
            var firstServed = sinceReady.Elapsed;
            clients.AddRange(fresh);
            Assert.Equal(ClusterFixture.GatewayCount, await MetricAsync(w3, WorkerMessages, "push_event=\"connect\"", ct));
            foreach (var f in fresh)
            {
                await AssertReceivedNothingAsync(f, ct);
            }
            // The older connections stay with the worker they were moved to while it lives (the new one is less
            // loaded, yet it gets none of their events). w2 was last scraped seconds ago: this read is not a cached one.
            var w2Now = await MetricAsync(w2, WorkerMessages, "push_event=\"message\"", ct);
            var older = 4 * ClusterFixture.GatewayCount;
            foreach (var c in clients.Take(older))
            {
                await AssertReceivedNothingAsync(c, ct);
            }
            await WaitUntilAsync(async () => await MetricAsync(w2, WorkerMessages, "push_event=\"message\"", ct) >= w2Now + older, $"the surviving worker handles the next message of each of the {older} older connections", ct);
            output.WriteLine($"new worker: process launch to registered and ready {Ms(launchToReady)}; then streams open on all {ClusterFixture.GatewayCount} gateways in {Ms(streamsOpen)}; its first connections (one per gateway) greeted {Ms(firstServed)} after ready");

            // 3. No worker at all: every client stays connected, pushes still arrive, and health and metrics say so:
            // not ready (503: a new client would have every event dropped), 0 worker streams.
            var sinceNone = Stopwatch.StartNew();
            w2.Kill();
            w3.Kill();
            await WaitUntilAsync(async () =>
            {
                foreach (var gw in cluster.Gateways)
                {
                    var (code, body) = await ReadinessAsync(gw, ct);
                    if (code != 503 || body != "Unhealthy" || await MetricAsync(gw, "push_gateway_worker_streams_open", null, ct) != 0)
                    {
                        return false;
                    }
                }
                return true;
            }, "every gateway reports not ready (503) and 0 worker streams", ct);
            output.WriteLine($"no worker: every gateway not ready (503) with 0 worker streams {Ms(sinceNone.Elapsed)} after the kill");
            await cluster.WaitForClusterAsync(ClusterFixture.GatewayCount, 0, ct);
            foreach (var c in clients)
            {
                await c.SendTextAsync("into-the-void", ct);
            }
            await WaitUntilAsync(async () =>
            {
                double dropped = 0;
                foreach (var gw in cluster.Gateways)
                {
                    dropped += await MetricAsync(gw, "push_gateway_worker_events_dropped_total", null, ct);
                }
                return dropped >= clients.Count;
            }, "the gateways count the events they could not hand to a worker", ct);
            var all = await cluster.Controls[1].Raw.SendToAllAsync(new SendToAllRequest { Text = "still-here" }, cancellationToken: ct);
            Assert.Equal(clients.Count, all.Delivered);
            foreach (var (c, i) in clients.Select((c, i) => (c, i)))
            {
                await AssertTextAsync(c, "still-here", ct);
                AssertOpen(c, $"client {i}");
            }

            // 4. A worker comes back: the same connections are served again, and the gateways are ready again.
            await cluster.StartWorkerAsync(ct);
            var sinceBack = Stopwatch.StartNew();
            await cluster.WaitForClusterAsync(ClusterFixture.GatewayCount, 1, ct);
            foreach (var gw in cluster.Gateways)
            {
                Assert.Equal((200, "Healthy"), await ReadinessAsync(gw, ct));
            }
            foreach (var c in clients)
            {
                await AssertReceivedNothingAsync(c, ct); // its echo arrives: answered by the new worker
            }
            output.WriteLine($"worker back: all {clients.Count} clients answered again {Ms(sinceBack.Elapsed)} after it was ready");
        }
        finally
        {
            await DisposeAllAsync(clients);
        }
    }

    private async Task<bool> AllGatewaysSeeAsync(int workers, CancellationToken ct)
    {
        foreach (var c in cluster.Controls)
        {
            var st = await c.GetStatusAsync(ct);
            if (st.Workers.Count != workers)
            {
                return false;
            }
        }
        return true;
    }
}
