using System.Collections.Concurrent;
using System.Diagnostics;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;
using static Push.ClusterTests.Cluster;
using static Push.ClusterTests.InterestRouting;

namespace Push.ClusterTests;

/// <summary>
/// Interest routing under churn, four real gateways: clients on three of them join and leave groups and bind and
/// unbind uids (through random gateways) while two publishers push to those groups and uids through other gateways.
/// Every push that started after a member's join (or bind) had returned, and ended before its leave (or unbind)
/// started, reached that member: checked per message, 0 missed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class InterestRoutingChurnTests(ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    private const int PushesPerPublisher = 1000;
    private const int ClientsPerGateway = 4;

    private sealed record Interval(RecordingClient Client, string Name, long From)
    {
        public long To { get; set; } = long.MaxValue;
    }

    private sealed record Sent(long N, string Name, long Start, long End);

    [Fact]
    public async Task JoinsLeavesBindsRacingPushes_EveryPushAfterAReturnedJoin_IsReceived()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(90));
        await WaitInSyncAsync(cluster, ct);
        var prefix = Unique("c");
        var groups = Enumerable.Range(0, 4).Select(i => $"{prefix}-g{i}").ToArray();
        var clients = new List<RecordingClient>();
        var intervals = new ConcurrentBag<Interval>();
        var sent = new ConcurrentBag<Sent>();
        try
        {
            for (var gw = 0; gw < 3; gw++)
            {
                for (var i = 0; i < ClientsPerGateway; i++)
                {
                    clients.Add(await RecordingClient.ConnectAsync(cluster, gw, ct));
                }
            }
            var uids = clients.Select((_, i) => $"{prefix}-u{i}").ToArray();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var churn = clients.Select((c, i) => Task.Run(() => ChurnAsync(c, uids[i], groups, intervals, new Random(i), stop.Token), ct)).ToArray();
            // Publishers on gateway 3 (no members) and gateway 1 (some members); names drawn from groups and uids.
            var publishers = new[] { 3, 1 }.Select((gw, p) => Task.Run(async () =>
            {
                var rng = new Random(100 + p);
                for (var k = 0; k < PushesPerPublisher; k++)
                {
                    var n = p * PushesPerPublisher + k;
                    var toGroup = rng.Next(2) == 0;
                    var name = toGroup ? groups[rng.Next(groups.Length)] : uids[rng.Next(uids.Length)];
                    var start = Stopwatch.GetTimestamp();
                    if (toGroup)
                    {
                        await cluster.Controls[gw].Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { name }, Text = $"P:{n}" }, cancellationToken: ct);
                    }
                    else
                    {
                        await cluster.Controls[gw].Raw.SendToUidAsync(new SendToUidRequest { Uids = { name }, Text = $"P:{n}" }, cancellationToken: ct);
                    }
                    sent.Add(new Sent(n, name, start, Stopwatch.GetTimestamp()));
                }
            }, ct)).ToArray();
            await Task.WhenAll(publishers);
            await stop.CancelAsync();
            await Task.WhenAll(churn);

            // What each member had to get: pushes inside one of its intervals of membership of the push's target.
            var byName = intervals.GroupBy(iv => iv.Name).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
            var due = new List<(RecordingClient Client, long N)>();
            foreach (var s in sent)
            {
                foreach (var iv in byName.GetValueOrDefault(s.Name) ?? [])
                {
                    if (iv.From <= s.Start && s.End <= iv.To)
                    {
                        due.Add((iv.Client, s.N));
                    }
                }
            }
            Assert.True(due.Count > 500, $"only {due.Count} deliveries were due: the churn did not overlap the pushes enough");
            await WaitUntilAsync(() => Task.FromResult(due.All(d => d.Client.Received.ContainsKey(d.N))), "every due push to arrive", ct, TimeSpan.FromSeconds(15))
                .ContinueWith(_ => { }, TaskScheduler.Default); // the per-message check below says what is missing
            var missed = due.Where(d => !d.Client.Received.ContainsKey(d.N)).ToList();
            var joins = intervals.Count;
            output.WriteLine($"{sent.Count} pushes, {joins} joins/binds, {due.Count} deliveries due, {missed.Count} missed; decisions on gateway 3: " +
                $"asked {await MetricAsync(cluster.Gateways[3], Decisions, "push_decision=\"asked\"", ct)}, skipped {await MetricAsync(cluster.Gateways[3], Decisions, "push_decision=\"skipped\"", ct)}, stale {await MetricAsync(cluster.Gateways[3], Decisions, "push_decision=\"stale\"", ct)}");
            Assert.True(missed.Count == 0, $"{missed.Count} of {due.Count} due deliveries missed, e.g. {string.Join("; ", missed.Take(10).Select(m => $"push {m.N} to {m.Client.ClientId} on gateway {m.Client.Gateway}"))}");
            Assert.All(clients, c => Assert.Equal(0, c.Duplicates));
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }

    // Join a group and bind the uid (through random gateways), stay a little, then unbind and leave; repeat.
    private async Task ChurnAsync(RecordingClient c, string uid, string[] groups, ConcurrentBag<Interval> intervals, Random rng, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var group = groups[rng.Next(groups.Length)];
                await cluster.Controls[rng.Next(4)].JoinGroupAsync(c.ClientId, group, stop);
                var inGroup = new Interval(c, group, Stopwatch.GetTimestamp());
                intervals.Add(inGroup);
                await cluster.Controls[rng.Next(4)].BindUidAsync(c.ClientId, uid, stop);
                var bound = new Interval(c, uid, Stopwatch.GetTimestamp());
                intervals.Add(bound);
                await Task.Delay(rng.Next(80), stop); // stay a while: pushes land inside the interval
                bound.To = Stopwatch.GetTimestamp();
                await cluster.Controls[rng.Next(4)].UnbindUidAsync(c.ClientId, uid, stop);
                inGroup.To = Stopwatch.GetTimestamp();
                await cluster.Controls[rng.Next(4)].LeaveGroupAsync(c.ClientId, group, stop);
                await Task.Delay(rng.Next(30), stop);
            }
        }
        catch (Exception ex) when (stop.IsCancellationRequested && ex is OperationCanceledException or Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Cancelled })
        {
            // the publishers are done; an interval still open stays open (To = max)
        }
    }
}
