using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using Push.Control;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;
using static Push.ClusterTests.Cluster;

namespace Push.ClusterTests;

/// <summary>Two gateways, two workers and a registry, with the secret (as production runs them).</summary>
public sealed class TwoGatewayClusterFixture : ClusterFixture
{
    protected override int GatewayTotal => 2;
}

/// <summary>
/// Resumable connections across real gateway processes: a client keeps receiving a numbered stream exactly once and
/// in order while its connection is broken by an abrupt close, a drain of its gateway and a drain of the other one
/// (each drained gateway restarted as a new process), resuming each time on the other gateway; a killed gateway
/// gives an explicit "not resumed".
/// </summary>
[Trait("Category", "Integration")]
public sealed class ResumeClusterTests(TwoGatewayClusterFixture cluster, ITestOutputHelper output) : IClassFixture<TwoGatewayClusterFixture>
{
    private const int Total = 5000;

    [Fact]
    public async Task NumberedStream_SurvivesAbruptCloseAndTwoDrains_ExactlyOnceInOrder_ResumedEachTime()
    {
        using var run = CancellationTokenSource.CreateLinkedTokenSource(TestTimeouts.Token(TimeSpan.FromMinutes(3)));
        var ct = run.Token;
        var uid = Unique("u");
        var group = Unique("g");
        var client = await ResumableClient.ConnectAsync(cluster.Gateways[0].Ws, cancellationToken: ct);
        var clientId = client.Welcome.ClientId;
        await client.ReceiveAsync(ct); // greeting
        await cluster.Controls[1].BindUidAsync(clientId, uid, ct);
        await cluster.Controls[1].JoinGroupAsync(clientId, group, ct);

        var received = new List<int>(Total);
        var publishVia = 1; // the gateway the publisher calls: never the one about to drain
        var published = 0;
        // The third break must happen while pushes are in flight: the publisher waits before 3,001 until the gateway
        // drained in the second break is back (its restart takes longer than the rest of the stream at 1,000/s).
        var secondRestarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var paused = TimeSpan.Zero;
        var publisher = Task.Run(async () =>
        {
            var sw = Stopwatch.StartNew();
            for (var i = 1; i <= Total; i++)
            {
                if (i == 3001)
                {
                    var before = sw.Elapsed;
                    await secondRestarted.Task.WaitAsync(ct);
                    paused = sw.Elapsed - before;
                }
                var wait = TimeSpan.FromMilliseconds(i) - sw.Elapsed; // 1,000 per second
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, ct);
                }
                var control = cluster.Controls[Volatile.Read(ref publishVia)];
                var text = i.ToString(CultureInfo.InvariantCulture);
                var (delivered, reach) = i % 2 == 0
                    ? await control.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, Text = text }, cancellationToken: ct) is var g ? (g.Delivered, g.Reach) : default
                    : await control.Raw.SendToUidAsync(new SendToUidRequest { Uids = { uid }, Text = text }, cancellationToken: ct) is var u ? (u.Delivered, u.Reach) : default;
                Assert.True(delivered >= 1, $"push {i} through gateway {Volatile.Read(ref publishVia) + 1} reached no connection: {reach}\n{cluster.Logs()}");
                Volatile.Write(ref published, i);
            }
            return sw.Elapsed - paused;
        }, ct);
        // A failed push ends the test at once with its own error rather than a timeout waiting for its message.
        _ = publisher.ContinueWith(_ => run.Cancel(), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        var took = TimeSpan.Zero;
        var drained = new List<int>();
        try
        {
            // Break 1 at ~1,000: the socket drops without a close frame; resume on gateway 2.
            client = await ReadUntilAsync(client, received, 1000, ct);
            client.Abort();
            client = await ResumeAsync(client, received, 1, ct);

            // Break 2 at ~2,000: its gateway (2) drains (SIGTERM: 1001); resume on gateway 1; gateway 2 comes back as a new process.
            client = await ReadUntilAsync(client, received, 2000, ct);
            Volatile.Write(ref publishVia, 0);
            cluster.Gateways[1].Terminate();
            drained.Add(1);
            var (status, _) = await client.Closed.WaitAsync(ct);
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status); // 1001 going away
            client = await ResumeAsync(client, received, 0, ct);
            Assert.Equal(0, await cluster.Gateways[1].WaitForExitAsync(TimeSpan.FromSeconds(15)));
            await cluster.RestartGatewayAsync(1, ct);
            drained.Remove(1);
            secondRestarted.SetResult();

            // Break 3 at ~3,500: the other gateway (1, where it lives now) drains; resume on the new gateway 2.
            client = await ReadUntilAsync(client, received, 3500, ct);
            Volatile.Write(ref publishVia, 1);
            cluster.Gateways[0].Terminate();
            drained.Add(0);
            await client.Closed.WaitAsync(ct);
            client = await ResumeAsync(client, received, 1, ct);
            Assert.Equal(0, await cluster.Gateways[0].WaitForExitAsync(TimeSpan.FromSeconds(15)));
            await cluster.RestartGatewayAsync(0, ct);
            drained.Remove(0);

            took = await publisher;
            client = await ReadUntilAsync(client, received, Total, ct);
        }
        catch (OperationCanceledException) when (publisher.IsFaulted)
        {
            await publisher; // throws the publisher's failure
        }
        finally
        {
            // The other tests of the class need both gateways.
            foreach (var i in drained)
            {
                await cluster.Gateways[i].WaitForExitAsync(TimeSpan.FromSeconds(15));
                await cluster.RestartGatewayAsync(i, TestTimeouts.Token(TestTimeouts.Long));
            }
        }
        output.WriteLine($"published {Total} in {took.TotalSeconds:0.0} s ({Total / took.TotalSeconds:0} pushes/s, paused {paused.TotalSeconds:0.0} s for a restart); received {received.Count}; client {clientId} now on {client.Welcome.ClientId}");
        Assert.Equal(Enumerable.Range(1, Total), received);
        Assert.Equal(clientId, client.Welcome.ClientId);
        await client.DisposeAsync();
    }

    [Fact]
    public async Task AfterAMove_ClientIdOperationsThroughTheGatewayItsIdNames_FollowIt()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromMinutes(2));
        var home = cluster.Gateways.FindIndex(g => !g.HasExited);
        var away = 1 - home;
        var first = await ResumableClient.ConnectAsync(cluster.Gateways[home].Ws, cancellationToken: ct);
        await first.ReceiveAsync(ct);
        var id = first.Welcome.ClientId;
        await cluster.Controls[home].UpdateSessionAsync(id, new Dictionary<string, string> { ["k"] = "v" }, ct);
        first.Abort();
        await first.Closed.WaitAsync(ct);
        var token = first.ResumeToken;
        await first.DisposeAsync();
        await using var moved = await ResumableClient.ConnectAsync(cluster.Gateways[away].Ws, token, cancellationToken: ct);
        Assert.True(moved.Welcome.Resumed, $"not resumed: {moved.Welcome.ResumeFailed}");

        // The id names the home gateway; the connection lives on the other one now.
        var viaHome = cluster.Controls[home];
        Assert.Equal(1, await viaHome.SendToClientAsync(id, "one", ct));
        Assert.Equal("one", (await moved.ReceiveAsync(ct)).Text);
        Assert.Equal(1, await viaHome.SendToClientsAsync([id], "many", cancellationToken: ct));
        Assert.Equal("many", (await moved.ReceiveAsync(ct)).Text);
        Assert.True(await viaHome.IsOnlineAsync(id, ct));
        Assert.Equal("v", (await viaHome.GetSessionAsync(id, ct))["k"]);
        var group = Unique("g");
        await viaHome.JoinGroupAsync(id, group, ct);
        Assert.Equal(1, await cluster.Controls[away].SendToGroupAsync(group, "group", ct));
        Assert.Equal("group", (await moved.ReceiveAsync(ct)).Text);
        // The demo worker still answers it (on the new gateway's stream), as the same client: no new greeting.
        await moved.SendTextAsync("echo", ct);
        Assert.Equal("echo", (await moved.ReceiveAsync(ct)).Text);
    }

    [Fact]
    public async Task KilledGateway_TheResumeSaysNotResumed_WithANewIdentity()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromMinutes(2));
        var victim = cluster.Gateways.FindIndex(g => !g.HasExited);
        var other = 1 - victim;
        var client = await ResumableClient.ConnectAsync(cluster.Gateways[victim].Ws, cancellationToken: ct);
        await client.ReceiveAsync(ct);
        var token = client.ResumeToken;
        cluster.Gateways[victim].Kill();
        await client.Closed.WaitAsync(ct);
        await client.DisposeAsync();

        await using var again = await ResumableClient.ConnectAsync(cluster.Gateways[other].Ws, token, cancellationToken: ct);
        Assert.False(again.Welcome.Resumed);
        Assert.Equal("owner_unreachable", again.Welcome.ResumeFailed);
        Assert.NotEqual(token.Welcome.ClientId, again.Welcome.ClientId);
        output.WriteLine($"resume after kill -9: {again.Welcome.ResumeFailed}");
        await cluster.RestartGatewayAsync(victim, ct);
    }

    private static async Task<ResumableClient> ReadUntilAsync(ResumableClient client, List<int> received, int upTo, CancellationToken ct)
    {
        while (received.Count == 0 || received[^1] < upTo)
        {
            var m = await client.ReceiveAsync(ct);
            received.Add(int.Parse(m.Text, CultureInfo.InvariantCulture));
        }
        return client;
    }

    private async Task<ResumableClient> ResumeAsync(ResumableClient old, List<int> received, int gateway, CancellationToken ct)
    {
        // Whatever arrived before the drop is kept (the welcome says from where the stream goes on).
        await old.Closed.WaitAsync(ct);
        received.AddRange(old.Drain().Select(m => int.Parse(m.Text, CultureInfo.InvariantCulture)));
        var token = old.ResumeToken;
        await old.DisposeAsync();
        var sw = Stopwatch.StartNew();
        var next = await ResumableClient.ConnectAsync(cluster.Gateways[gateway].Ws, token, cancellationToken: ct);
        Assert.True(next.Welcome.Resumed, $"not resumed on gateway {gateway + 1}: {next.Welcome.ResumeFailed}\n{cluster.Logs()}");
        Assert.Equal(token.LastSeq, next.Welcome.Seq);
        output.WriteLine($"resumed on gateway {gateway + 1} at seq {token.LastSeq} in {Ms(sw.Elapsed)}");
        return next;
    }
}
