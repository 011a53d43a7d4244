using System.Diagnostics;
using Grpc.Net.Client;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;
using static Push.ClusterTests.Cluster;

namespace Push.ClusterTests;

/// <summary>Checks shared by the registry tests.</summary>
internal static class RegistryChecks
{
    /// <summary>One client per gateway in one group; returns the clients and the group.</summary>
    public static async Task<(List<TestWebSocket> Clients, string Group)> ConnectOnePerGatewayAsync(ClusterFixture cluster, CancellationToken ct)
    {
        var group = Unique("r");
        var clients = new List<TestWebSocket>();
        foreach (var gw in cluster.Gateways)
        {
            var c = await TestWebSocket.ConnectAsync(gw.Ws, cancellationToken: ct);
            clients.Add(c);
            await cluster.Controls[0].JoinGroupAsync(c.ClientId, group, ct);
        }
        return (clients, group);
    }

    /// <summary>A group push through every gateway reaches every client (3/3), queries count them, the echo answers.</summary>
    public static async Task AssertServingAsync(ClusterFixture cluster, List<TestWebSocket> clients, string group, CancellationToken ct)
    {
        foreach (var (gw, i) in cluster.Controls.Select((g, i) => (g, i)))
        {
            var text = $"via-{i}-{Guid.NewGuid():N}";
            var r = await gw.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, Text = text }, cancellationToken: ct);
            Assert.Equal(clients.Count, r.Delivered);
            Assert.Equal(ClusterFixture.GatewayCount, r.Reach.GatewaysAnswered);
            Assert.Equal(ClusterFixture.GatewayCount, r.Reach.GatewaysTotal);
            foreach (var c in clients)
            {
                await AssertTextAsync(c, text, ct);
            }
            Assert.Equal(clients.Count, await gw.GetClientCountByGroupAsync(group, ct));
        }
        foreach (var c in clients)
        {
            await AssertReceivedNothingAsync(c, ct);
            AssertOpen(c, c.ClientId);
        }
    }

    /// <summary>Keeps checking <see cref="AssertServingAsync"/> for <paramref name="duration"/> (a new client connects each round).</summary>
    public static async Task<int> KeepServingForAsync(ClusterFixture cluster, List<TestWebSocket> clients, string group, TimeSpan duration, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var rounds = 0;
        while (sw.Elapsed < duration)
        {
            await AssertServingAsync(cluster, clients, group, ct);
            // A new connection is accepted, greeted by a worker and joins the group.
            var gw = cluster.Gateways[rounds % 3];
            var c = await TestWebSocket.ConnectAsync(gw.Ws, cancellationToken: ct);
            clients.Add(c);
            await cluster.Controls[(rounds + 1) % 3].JoinGroupAsync(c.ClientId, group, ct);
            rounds++;
        }
        return rounds;
    }

    /// <summary>Writes every process's log to the test output (used in an exception filter: returns false).</summary>
    public static bool Dump(ClusterFixture cluster, Xunit.Abstractions.ITestOutputHelper output)
    {
        output.WriteLine(cluster.Logs());
        return false;
    }

    public static async Task<int> MembersAsync(PushProcess registry, CancellationToken ct)
    {
        using var channel = GrpcChannel.ForAddress(registry.GrpcAddress);
        var client = new RegistryService.RegistryServiceClient(channel);
        return (await client.ListMembersAsync(new ListMembersRequest(), new Grpc.Core.Metadata { { "authorization", "Bearer " + TestSecrets.Control } }, deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: ct)).Members.Count;
    }

    /// <summary>Starts a registry on the address and port of a killed one.</summary>
    public static Task<PushProcess> RestartAsync(PushProcess killed, CancellationToken ct)
        => PushProcess.StartAsync("registry", ["--grpc", $"{killed.Grpc.Host}:{killed.Grpc.Port}"], host: killed.Grpc.Host, cancellationToken: ct);

    /// <summary>Waits until every live gateway and worker logged, at or after <paramref name="since"/>, that the registry is unreachable.</summary>
    public static Task WaitRegistryDownSeenAsync(ClusterFixture cluster, string url, DateTime since, CancellationToken ct)
        => WaitUntilAsync(() => Task.FromResult(cluster.Gateways.Concat(cluster.Workers).Where(p => !p.HasExited).All(p => FirstLogAt(p, $"Registry {url} is unreachable", since) is not null)),
            () => "every gateway and worker noticed the registry is down\n" + cluster.Logs(), ct);

    /// <summary>Kills a registry and waits until every member noticed.</summary>
    public static async Task KillAsync(ClusterFixture cluster, PushProcess registry, CancellationToken ct)
    {
        var since = DateTime.Now;
        registry.Kill();
        await WaitRegistryDownSeenAsync(cluster, registry.GrpcAddress, since.AddMilliseconds(-20), ct);
    }
}

/// <summary>The only registry is killed: the cluster goes on with its last view; a registry restarted on the same port is repopulated.</summary>
[Trait("Category", "Integration")]
public sealed class RegistryFailureTests(ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task KilledRegistry_PushesAndQueriesGoOn_RestartedRegistryIsRepopulated_MembersThatDiedMeanwhileAreForgotten()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var (clients, group) = await RegistryChecks.ConnectOnePerGatewayAsync(cluster, ct);
        try
        {
            var registry = cluster.Registries[0];
            Assert.Equal(ClusterFixture.GatewayCount + 2, await RegistryChecks.MembersAsync(registry, ct));
            await using var sampler = new ViewSampler(cluster.Controls, ClusterFixture.GatewayCount, 2);

            await RegistryChecks.KillAsync(cluster, registry, ct);
            // No registry answers for two lease times: the views, pushes, queries and new clients stay as they were.
            var rounds = await RegistryChecks.KeepServingForAsync(cluster, clients, group, ClusterFixture.LeaseTtl * 2, ct);
            foreach (var gw in cluster.Gateways)
            {
                Assert.Equal((200, "Healthy"), await ReadinessAsync(gw, ct));
            }
            output.WriteLine($"registry down: {rounds} rounds of pushes through every gateway, queries and new clients over {ClusterFixture.LeaseTtl.TotalSeconds * 2} s, all served");

            var sinceLaunch = Stopwatch.StartNew();
            var restarted = await RegistryChecks.RestartAsync(registry, ct);
            cluster.ReplaceRegistry(0, restarted);
            var launchToReady = sinceLaunch.Elapsed;
            var sinceReady = Stopwatch.StartNew();
            await WaitUntilAsync(async () => await RegistryChecks.MembersAsync(restarted, ct) == ClusterFixture.GatewayCount + 2, "the restarted registry lists every gateway and 2 workers", ct);
            var repopulated = sinceReady.Elapsed;
            await cluster.WaitForClusterAsync(ClusterFixture.GatewayCount, 2, ct);
            var whole = sinceReady.Elapsed;
            output.WriteLine($"registry restarted on {restarted.GrpcAddress}: launch to listening {Ms(launchToReady)}; all {ClusterFixture.GatewayCount + 2} members registered again {Ms(repopulated)} after it listened; every GetStatus whole {Ms(whole)} after");
            await RegistryChecks.AssertServingAsync(cluster, clients, group, ct);

            await sampler.DisposeAsync();
            output.WriteLine($"{sampler.Samples} GetStatus samples from the kill to the end, {sampler.Dips.Count} not whole");
            Assert.True(sampler.Dips.Count == 0, "the cluster view dipped:\n" + string.Join("\n", sampler.Dips.Take(20)) + "\n" + cluster.Logs());
            foreach (var gw in cluster.Gateways)
            {
                Assert.DoesNotContain("left the cluster", gw.Output, StringComparison.Ordinal);
            }

            // A worker that dies while no registry answers: its streams fail at once (its clients move to the other
            // worker), it stays listed (no registry says otherwise), and it is forgotten once a restarted registry
            // has settled: a lease plus the one-second retry after it answers, without the dead worker re-registering.
            await RegistryChecks.KillAsync(cluster, restarted, ct);
            var dead = cluster.Workers[1];
            dead.Kill();
            await WaitUntilAsync(async () => (await cluster.Controls[0].GetStatusAsync(ct)).Gateways.All(g => g.WorkersConnected == 1), "every gateway's stream to the killed worker failed", ct);
            Assert.Equal(2, (await cluster.Controls[1].GetStatusAsync(ct)).Workers.Count);
            await RegistryChecks.AssertServingAsync(cluster, clients, group, ct);
            var third = await RegistryChecks.RestartAsync(restarted, ct);
            cluster.ReplaceRegistry(0, third);
            var forgotten = await WaitUntilAsync(async () =>
            {
                foreach (var gw in cluster.Controls)
                {
                    if ((await gw.GetStatusAsync(ct)).Workers.Count != 1)
                    {
                        return false;
                    }
                }
                return true;
            }, "every gateway forgot the worker that died while no registry answered", ct);
            output.WriteLine($"a worker killed while no registry answered: dropped from every view {Ms(forgotten)} after the registry came back (settling: lease {ClusterFixture.LeaseTtl.TotalSeconds} s + 1 s retry)");
            Assert.True(forgotten > ClusterFixture.LeaseTtl, $"forgotten after {Ms(forgotten)}: before the registry settled");
            await cluster.WaitForClusterAsync(ClusterFixture.GatewayCount, 1, ct);
            await RegistryChecks.AssertServingAsync(cluster, clients, group, ct);
        }
        catch (Exception) when (RegistryChecks.Dump(cluster, output))
        {
            throw;
        }
        finally
        {
            await DisposeAllAsync(clients);
        }
    }
}

/// <summary>Every member registers with two registries: losing either changes nothing.</summary>
[Trait("Category", "Integration")]
public sealed class TwoRegistriesTests(TwoRegistryClusterFixture cluster, ITestOutputHelper output) : IClassFixture<TwoRegistryClusterFixture>
{
    [Fact]
    public async Task EitherRegistryKilled_NothingChanges()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var (clients, group) = await RegistryChecks.ConnectOnePerGatewayAsync(cluster, ct);
        try
        {
            var (a, b) = (cluster.Registries[0], cluster.Registries[1]);
            Assert.Equal(ClusterFixture.GatewayCount + 2, await RegistryChecks.MembersAsync(a, ct));
            Assert.Equal(ClusterFixture.GatewayCount + 2, await RegistryChecks.MembersAsync(b, ct));
            await using var sampler = new ViewSampler(cluster.Controls, ClusterFixture.GatewayCount, 2);

            await RegistryChecks.KillAsync(cluster, a, ct);
            var rounds = await RegistryChecks.KeepServingForAsync(cluster, clients, group, ClusterFixture.LeaseTtl * 2, ct);
            output.WriteLine($"registry A killed: {rounds} rounds served over {ClusterFixture.LeaseTtl.TotalSeconds * 2} s");

            // A comes back on its port and is repopulated; then B dies and A alone carries the cluster.
            var restarted = await RegistryChecks.RestartAsync(a, ct);
            cluster.ReplaceRegistry(0, restarted);
            var repopulated = await WaitUntilAsync(async () => await RegistryChecks.MembersAsync(restarted, ct) == ClusterFixture.GatewayCount + 2, "registry A lists every member again", ct);
            output.WriteLine($"registry A restarted: all {ClusterFixture.GatewayCount + 2} members registered again {Ms(repopulated)} after it listened");
            await RegistryChecks.KillAsync(cluster, b, ct);
            rounds = await RegistryChecks.KeepServingForAsync(cluster, clients, group, ClusterFixture.LeaseTtl * 2, ct);
            output.WriteLine($"registry B killed: {rounds} rounds served over {ClusterFixture.LeaseTtl.TotalSeconds * 2} s");
            Assert.Equal(ClusterFixture.GatewayCount + 2, await RegistryChecks.MembersAsync(restarted, ct));
            await cluster.WaitForClusterAsync(ClusterFixture.GatewayCount, 2, ct, TimeSpan.FromSeconds(1));

            await sampler.DisposeAsync();
            output.WriteLine($"{sampler.Samples} GetStatus samples from the first kill to the end, {sampler.Dips.Count} not whole");
            Assert.True(sampler.Dips.Count == 0, "the cluster view dipped:\n" + string.Join("\n", sampler.Dips.Take(20)) + "\n" + cluster.Logs());
            foreach (var gw in cluster.Gateways)
            {
                Assert.DoesNotContain("left the cluster", gw.Output, StringComparison.Ordinal);
            }
        }
        catch (Exception) when (RegistryChecks.Dump(cluster, output))
        {
            throw;
        }
        finally
        {
            await DisposeAllAsync(clients);
        }
    }
}
