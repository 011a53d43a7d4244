using System.Collections.Concurrent;
using System.Diagnostics;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;
using static Push.ClusterTests.Cluster;
using static Push.ClusterTests.InterestRouting;

namespace Push.ClusterTests;

/// <summary>
/// Interest routing through a gateway's death and restart, four real gateways: group members on gateways 0, 1 and 2,
/// a publisher on gateway 3. Gateway 1 is killed (SIGKILL) in the middle of the pushes and started again (a new
/// gateway id, a new snapshot); its new clients join the group. Members on the survivors get every push, a group
/// first joined on a survivor right after the kill gets every push after the join returned, and the restarted
/// gateway's members get every push after their join returned.
/// </summary>
[Trait("Category", "Integration")]
public sealed class InterestRoutingFailureTests(ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    private sealed record Sent(long N, string Group, long Start, long End, ClusterReach Reach);

    [Fact]
    public async Task GatewayKilledAndRestarted_DuringPushes_SurvivorsAndRejoinedMembersMissNothing()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(100));
        await WaitInSyncAsync(cluster, ct);
        var (group, late) = (Unique("g"), Unique("late"));
        var survivors = new List<RecordingClient>();
        var victims = new List<RecordingClient>();
        var rejoined = new List<(RecordingClient Client, long JoinedAt)>();
        RecordingClient? lateMember = null;
        long lateJoinedAt = long.MaxValue;
        var sent = new ConcurrentQueue<Sent>();
        try
        {
            foreach (var gw in new[] { 0, 2 })
            {
                for (var i = 0; i < 3; i++)
                {
                    survivors.Add(await RecordingClient.ConnectAsync(cluster, gw, ct));
                }
            }
            for (var i = 0; i < 3; i++)
            {
                victims.Add(await RecordingClient.ConnectAsync(cluster, 1, ct));
            }
            foreach (var c in survivors.Concat(victims))
            {
                await cluster.Controls[3].JoinGroupAsync(c.ClientId, group, ct);
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var count = 0L;
            var publisher = Task.Run(async () =>
            {
                for (var n = 0L; !stop.IsCancellationRequested; n++)
                {
                    var target = n % 4 == 3 ? late : group;
                    var start = Stopwatch.GetTimestamp();
                    var r = await cluster.Controls[3].Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { target }, Text = $"P:{n}" }, cancellationToken: ct);
                    sent.Enqueue(new Sent(n, target, start, Stopwatch.GetTimestamp(), r.Reach));
                    Interlocked.Exchange(ref count, n + 1);
                }
            }, ct);
            async Task PushesAsync(long more, string what)
            {
                var until = Interlocked.Read(ref count) + more;
                await WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref count) >= until || publisher.IsCompleted), () => $"{more} more pushes {what} (at {Interlocked.Read(ref count)})", ct, TimeSpan.FromSeconds(30));
                if (publisher.IsFaulted)
                {
                    await publisher; // its failure, not a timeout
                }
            }

            await PushesAsync(300, "before the kill");
            Signal(cluster.Gateways[1], "KILL");
            await WaitUntilAsync(() => Task.FromResult(cluster.Gateways[1].HasExited), "gateway 1 to exit", ct);
            // A group's first member on a survivor while the dead gateway may still hold a lease on the old view:
            // the join waits at most one lease for it.
            lateMember = await RecordingClient.ConnectAsync(cluster, 0, ct);
            var joinTime = Stopwatch.StartNew();
            await cluster.Controls[2].JoinGroupAsync(lateMember.ClientId, late, ct);
            lateJoinedAt = Stopwatch.GetTimestamp();
            output.WriteLine($"first join of a group on gateway 0 right after the kill answered in {Ms(joinTime.Elapsed)}");
            await PushesAsync(300, "after the kill");

            var restarted = await cluster.RestartGatewayAsync(1, ct);
            for (var i = 0; i < 3; i++)
            {
                var c = await RecordingClient.ConnectAsync(cluster, 1, ct);
                await cluster.Controls[(i + 2) % 4].JoinGroupAsync(c.ClientId, group, ct);
                rejoined.Add((c, Stopwatch.GetTimestamp()));
            }
            await PushesAsync(400, "after the restart");
            await stop.CancelAsync();
            await publisher.ContinueWith(_ => { }, TaskScheduler.Default);
            Assert.False(publisher.IsFaulted, publisher.Exception?.ToString());

            var due = new List<(RecordingClient Client, long N)>();
            foreach (var s in sent)
            {
                if (s.Group == group)
                {
                    due.AddRange(survivors.Select(c => (c, s.N)));
                    due.AddRange(rejoined.Where(r => r.JoinedAt <= s.Start).Select(r => (r.Client, s.N)));
                }
                else if (lateJoinedAt <= s.Start)
                {
                    due.Add((lateMember, s.N));
                }
            }
            await WaitUntilAsync(() => Task.FromResult(due.All(d => d.Client.Received.ContainsKey(d.N))), "every due push to arrive", ct, TimeSpan.FromSeconds(15))
                .ContinueWith(_ => { }, TaskScheduler.Default); // the per-message check below says what is missing
            var missed = due.Where(d => !d.Client.Received.ContainsKey(d.N)).ToList();
            var unreachable = sent.Count(s => s.Reach.UnreachableGatewayIds.Count > 0);
            var afterRestart = sent.Where(s => s.Group == group && rejoined.All(r => r.JoinedAt <= s.Start)).ToList();
            output.WriteLine($"{sent.Count} pushes, {due.Count} deliveries due, {missed.Count} missed; {unreachable} pushes reported the killed gateway unreachable; " +
                $"{afterRestart.Count} group pushes after the rejoin, the restarted gateway {restarted.Pid} got {rejoined.Sum(r => r.Client.Received.Count)} messages");
            Assert.True(missed.Count == 0, $"{missed.Count} of {due.Count} due deliveries missed, e.g. {string.Join("; ", missed.Take(10).Select(m => $"push {m.N} to {m.Client.ClientId} on gateway {m.Client.Gateway}"))}\n{cluster.Logs()}");
            Assert.True(afterRestart.Count >= 100, $"only {afterRestart.Count} group pushes after the rejoin");
            Assert.All(survivors.Concat(rejoined.Select(r => r.Client)), c => Assert.Equal(0, c.Duplicates));
        }
        finally
        {
            foreach (var c in survivors.Concat(victims).Concat(rejoined.Select(r => r.Client)))
            {
                await c.DisposeAsync();
            }
            if (lateMember is not null)
            {
                await lateMember.DisposeAsync();
            }
        }
    }
}
