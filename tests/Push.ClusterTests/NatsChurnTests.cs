using System.Collections.Concurrent;
using System.Globalization;
using System.Net.WebSockets;
using Push.Testing;
using Xunit.Abstractions;
using static Push.ClusterTests.Cluster;

namespace Push.ClusterTests;

/// <summary>
/// Joins and leaves on every gateway racing three publishers (NATS routing, one nats-server). Two clients per gateway
/// join and leave one group over and over through random gateways, so each gateway's subscription goes on and off
/// (its last member leaves, a first one joins), while publisher i pushes to the group through gateway i without pause.
/// <para>
/// What must hold: a push that started after a member's join returned reaches it while it stays a member. A NATS push
/// is delivered when it arrives, after SendToGroup returned, so "stays a member" is fixed by what the member itself
/// saw: it leaves only once it has received, from every publisher, a push that started after its join returned.
/// Publications of one publisher arrive at a gateway in order (one NATS connection each way), so every push of
/// publisher i that started after the join and is not later than the last one of i the member received before
/// leaving arrived while it was a member and must have reached it. Nothing may arrive twice.
/// </para>
/// </summary>
[Trait("Category", "Integration")]
public sealed class NatsChurnTests(NatsClusterFixture cluster, ITestOutputHelper output) : IClassFixture<NatsClusterFixture>
{
    private const int ClientsPerGateway = 2;
    private const int Rounds = 12;
    private const int Publishers = NatsClusterFixture.GatewayCount;

    private long _clock;

    private long Tick() => Interlocked.Increment(ref _clock);

    [Fact]
    public async Task JoinsAndLeavesRacingPushes_EveryPushAfterAReturnedJoinArrivesOnce()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(55));
        var group = Unique("churn");
        var clients = new List<TestWebSocket>();
        try
        {
            for (var g = 0; g < NatsClusterFixture.GatewayCount; g++)
            {
                for (var i = 0; i < ClientsPerGateway; i++)
                {
                    clients.Add(await TestWebSocket.ConnectAsync(cluster.Gateways[g].Ws, cancellationToken: ct));
                }
            }
            var started = new ConcurrentDictionary<string, long>(); // push text -> tick before its SendToGroup
            var sent = new int[Publishers];
            var received = clients.Select(_ => new List<string>()).ToArray();
            var intervals = clients.Select(_ => new List<(long Joined, int[] Last)>()).ToArray();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);

            async Task PublisherAsync(int p)
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var text = string.Create(CultureInfo.InvariantCulture, $"p{p}-{n}");
                    started[text] = Tick();
                    await cluster.Controls[p].SendToGroupAsync(group, text, ct);
                    sent[p] = n + 1;
                    await Task.Yield();
                }
            }

            async Task MemberAsync(int index)
            {
                var rnd = new Random(index);
                var ws = clients[index];
                for (var r = 0; r < Rounds; r++)
                {
                    await cluster.Controls[rnd.Next(cluster.Controls.Count)].JoinGroupAsync(ws.ClientId, group, ct);
                    var joined = Tick();
                    var last = new[] { -1, -1, -1 };
                    while (last.Any(x => x < 0))
                    {
                        var m = await ws.ReceiveAsync(ct); // fails after 10 s: a publisher's pushes did not arrive
                        received[index].Add(m.Text);
                        var (p, n) = Parse(m.Text);
                        if (started[m.Text] > joined)
                        {
                            last[p] = Math.Max(last[p], n);
                        }
                    }
                    intervals[index].Add((joined, last));
                    await cluster.Controls[rnd.Next(cluster.Controls.Count)].LeaveGroupAsync(ws.ClientId, group, ct);
                    await Task.Delay(rnd.Next(0, 20), ct); // workload pacing: the gateway's members may all be out now
                }
            }

            var publishers = Enumerable.Range(0, Publishers).Select(p => Task.Run(() => PublisherAsync(p), ct)).ToArray();
            await Task.WhenAll(Enumerable.Range(0, clients.Count).Select(i => Task.Run(() => MemberAsync(i), ct)));
            await stop.CancelAsync();
            await Task.WhenAll(publishers);

            var missing = new List<string>();
            long required = 0;
            for (var i = 0; i < clients.Count; i++)
            {
                received[i].AddRange((await clients[i].DrainUntilEchoAsync(ct)).Where(m => m.Type == WebSocketMessageType.Text).Select(m => m.Text));
                var dup = received[i].GroupBy(t => t).Where(x => x.Count() > 1).Select(x => x.Key).ToList();
                Assert.True(dup.Count == 0, $"client {i} got pushes twice: {string.Join(", ", dup)}");
                var set = received[i].ToHashSet();
                foreach (var (joined, last) in intervals[i])
                {
                    for (var p = 0; p < Publishers; p++)
                    {
                        for (var n = last[p]; n >= 0; n--)
                        {
                            var text = string.Create(CultureInfo.InvariantCulture, $"p{p}-{n}");
                            if (started[text] <= joined)
                            {
                                break;
                            }
                            required++;
                            if (!set.Contains(text))
                            {
                                missing.Add($"client {i} (gateway {i / ClientsPerGateway}) missed {text} (started at {started[text]}; its join returned at {joined}, it then received up to p{p}-{last[p]} before leaving)");
                            }
                        }
                    }
                }
            }
            output.WriteLine($"{sent.Sum()} pushes ({string.Join(", ", sent)} per publisher), {clients.Count * Rounds} joins and as many leaves; {required} deliveries required by the order, {missing.Count} missed");
            Assert.True(missing.Count == 0, string.Join("\n", missing.Take(20)));
        }
        finally
        {
            await DisposeAllAsync(clients);
        }
    }

    private static (int Publisher, int Seq) Parse(string text)
    {
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        return (int.Parse(text.AsSpan(1, dash - 1), CultureInfo.InvariantCulture), int.Parse(text.AsSpan(dash + 1), CultureInfo.InvariantCulture));
    }
}
