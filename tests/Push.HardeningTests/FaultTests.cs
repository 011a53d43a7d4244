using System.Diagnostics;
using Push.Control;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// Kill -9 and SIGTERM of each role under a steady load: a backend pushing to a group at 100 pushes/s and clients
/// doing echo round trips through the workers. Each test writes what was delivered and what was lost, and why.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FaultTests(ITestOutputHelper output)
{
    private const string Group = "load";
    private static readonly TimeSpan PushInterval = TimeSpan.FromMilliseconds(10);

    private sealed record Phase(string Name, long Sent, long Echoed, long Lost, int Disconnected, TimeSpan Took);

    [Fact]
    public async Task WorkerKilledOrTerminated_PushesUnaffected_EchoesMoveToTheOtherWorkers()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(120));
        await using var cluster = await TestCluster.StartAsync(gateways: 2, workers: 3, ct: ct);
        var (echo, push, all, control) = await StartLoadAsync(cluster, echoPerGateway: 8, pushPerGateway: 4, pushVia: cluster.Gateways[0], ct);
        try
        {
            var kill = await PhaseAsync("worker 0 killed (kill -9)", echo, cluster, control, async () =>
            {
                cluster.Workers[0].Kill();
                await cluster.Workers[0].WaitForExitAsync(TimeSpan.FromSeconds(10));
            }, ct);
            var term = await PhaseAsync("worker 1 terminated (SIGTERM)", echo, cluster, control, async () =>
            {
                cluster.Workers[1].Terminate();
                await cluster.Workers[1].WaitForExitAsync(TimeSpan.FromSeconds(15));
            }, ct);
            await echo.StopAsync();
            await push.StopAsync();
            Report(kill, term, echo, push);

            Assert.Equal(0, push.Failed);
            AssertNoPushLost(push);
            Assert.Equal(0, echo.Disconnected);
            // At-least-once events: what the killed worker had not acknowledged went to the others (flagged redelivered).
            Assert.Equal(0, kill.Lost);
            Assert.Equal(0, term.Lost);
            await Probe.UntilWorkersAsync(control, 1, ct);
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException(ex.Message + "\n" + cluster.AllOutput(), ex);
        }
        finally
        {
            await DisposeAsync(all, control);
        }
    }

    [Fact]
    public async Task GatewayKilledOrTerminated_OnlyItsClientsAreLost()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(120));
        await using var cluster = await TestCluster.StartAsync(gateways: 3, workers: 1, gatewayArgs: ["--set", "Gateway:DrainTimeout=00:00:03"], ct: ct);
        var (echo, push, all, control) = await StartLoadAsync(cluster, echoPerGateway: 6, pushPerGateway: 4, pushVia: cluster.Gateways[2], ct);
        try
        {
            var kill = await PhaseAsync("gateway 0 killed (kill -9)", echo, cluster, control, async () =>
            {
                cluster.Gateways[0].Kill();
                await cluster.Gateways[0].WaitForExitAsync(TimeSpan.FromSeconds(10));
            }, ct);
            var term = await PhaseAsync("gateway 1 terminated (SIGTERM)", echo, cluster, control, async () =>
            {
                cluster.Gateways[1].Terminate();
                await cluster.Gateways[1].WaitForExitAsync(TimeSpan.FromSeconds(15));
            }, ct);
            await echo.StopAsync();
            await push.StopAsync();
            Report(kill, term, echo, push);

            Assert.Equal(0, push.Failed);
            AssertNoPushLost(push);
            var report = push.Report().ToDictionary(r => r.Label);
            Assert.Equal(4, report["gateway 2"].Connected);
            Assert.Equal(0, report["gateway 0"].Connected);
            Assert.Equal(0, report["gateway 1"].Connected);
            Assert.Equal(12, echo.Disconnected); // the echo clients of gateways 0 and 1, nobody else
            Assert.Equal(0, term.Lost);
            Assert.True(kill.Lost <= 6, $"{kill.Lost} echoes lost when a gateway was killed");
            Assert.Single((await control.GetStatusAsync(ct)).Gateways);
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException(ex.Message + "\n" + cluster.AllOutput(), ex);
        }
        finally
        {
            await DisposeAsync(all, control);
        }
    }

    [Fact]
    public async Task RegistryKilledOrTerminated_NothingIsLost_MembersReRegister()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(120));
        await using var cluster = await TestCluster.StartAsync(gateways: 2, workers: 2, ct: ct);
        var (echo, push, all, control) = await StartLoadAsync(cluster, echoPerGateway: 6, pushPerGateway: 4, pushVia: cluster.Gateways[0], ct);
        try
        {
            var phases = new List<Phase>();
            foreach (var (how, act) in new (string, Action<PushProcess>)[] { ("killed (kill -9)", p => p.Kill()), ("terminated (SIGTERM)", p => p.Terminate()) })
            {
                phases.Add(await PhaseAsync($"registry {how}", echo, cluster, control, async () =>
                {
                    act(cluster.Registry);
                    await cluster.Registry.WaitForExitAsync(TimeSpan.FromSeconds(15));
                }, ct));
                // Without a registry the cluster keeps its last view: new clients are served on every gateway.
                foreach (var g in cluster.Gateways)
                {
                    await using var fresh = await TestWebSocket.ConnectAsync(g.Ws, cancellationToken: ct);
                    await fresh.DrainUntilEchoAsync(ct);
                }
                var clock = Stopwatch.StartNew();
                await cluster.RestartRegistryAsync(ct);
                await Probe.UntilAsync(async () =>
                {
                    var s = await control.GetStatusAsync(ct);
                    return s.Gateways.Count == 2 && s.Workers.Count == 2 && s.Gateways.All(x => x.WorkersConnected == 2);
                }, TimeSpan.FromSeconds(20), "every member registered again with the new registry", ct);
                output.WriteLine($"registry {how}: restarted on the same port; every member registered again {clock.Elapsed.TotalSeconds:F1} s later");
            }
            await echo.StopAsync();
            await push.StopAsync();
            Report(phases[0], phases[1], echo, push);

            Assert.Equal(0, push.Failed);
            AssertNoPushLost(push);
            Assert.Equal(0, echo.Disconnected);
            Assert.Equal(0, echo.Lost);
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException(ex.Message + "\n" + cluster.AllOutput(), ex);
        }
        finally
        {
            await DisposeAsync(all, control);
        }
    }

    private static async Task<(EchoLoad Echo, PushLoad Push, List<TestWebSocket> All, PushControlClient Control)> StartLoadAsync(TestCluster cluster, int echoPerGateway, int pushPerGateway, PushProcess pushVia, CancellationToken ct)
    {
        var control = pushVia.Control();
        var all = new List<TestWebSocket>();
        var echoClients = new List<TestWebSocket>();
        var push = new PushLoad(Group);
        for (var g = 0; g < cluster.Gateways.Length; g++)
        {
            for (var i = 0; i < echoPerGateway + pushPerGateway; i++)
            {
                var ws = await TestWebSocket.ConnectAsync(cluster.Gateways[g].Ws, cancellationToken: ct);
                all.Add(ws);
                if (i < echoPerGateway)
                {
                    echoClients.Add(ws);
                }
                else
                {
                    await control.JoinGroupAsync(ws.ClientId, Group, ct);
                    push.Add(ws, $"gateway {g}");
                }
            }
        }
        var echo = new EchoLoad(echoClients, TimeSpan.FromSeconds(2));
        push.Start(control, PushInterval);
        await Probe.UntilAsync(() => echo.Echoed > 100 && push.Pushed > 50, TimeSpan.FromSeconds(20), "the load runs", ct);
        return (echo, push, all, control);
    }

    /// <summary>
    /// Runs a fault under load, then keeps the load running over its aftermath: until the cluster has settled (the
    /// view through <paramref name="control"/> lists exactly the live gateways and workers, every stream open: the
    /// dead member's lease lapsed, reroutes done) and the echo load has made progress again after that. Events, not a
    /// fixed sleep.
    /// </summary>
    private static async Task<Phase> PhaseAsync(string name, EchoLoad echo, TestCluster cluster, PushControlClient control, Func<Task> fault, CancellationToken ct)
    {
        var (sent, echoed, lost, disconnected) = (echo.Sent, echo.Echoed, echo.Lost, echo.Disconnected);
        var clock = Stopwatch.StartNew();
        await fault();
        var after = echo.Echoed;
        await Probe.UntilAsync(() => echo.Echoed > after + 100, TimeSpan.FromSeconds(20), $"echoes go on after: {name}", ct);
        await Probe.UntilAsync(() => SettledAsync(cluster, control, ct), TimeSpan.FromSeconds(20), $"the cluster settles after: {name}", ct);
        var settled = echo.Echoed;
        await Probe.UntilAsync(() => echo.Echoed > settled + 100, TimeSpan.FromSeconds(20), $"echoes go on once settled after: {name}", ct);
        return new Phase(name, echo.Sent - sent, echo.Echoed - echoed, echo.Lost - lost, echo.Disconnected - disconnected, clock.Elapsed);
    }

    private static async Task<bool> SettledAsync(TestCluster cluster, PushControlClient control, CancellationToken ct)
    {
        var s = await control.GetStatusAsync(ct);
        var gateways = cluster.Gateways.Count(g => !g.HasExited);
        var workers = cluster.Workers.Count(w => !w.HasExited);
        return s.Reach.GatewaysTotal == gateways && s.Reach.GatewaysAnswered == gateways && s.Workers.Count == workers && s.Gateways.All(g => g.WorkersConnected == workers);
    }

    private void Report(Phase a, Phase b, EchoLoad echo, PushLoad push)
    {
        foreach (var p in new[] { a, b })
        {
            output.WriteLine($"{p.Name}: over {p.Took.TotalSeconds:F1} s, {p.Sent} echo round trips sent, {p.Echoed} answered, {p.Lost} lost (in flight at the fault), {p.Disconnected} client(s) lost their connection");
        }
        output.WriteLine($"echo total: {echo}");
        output.WriteLine($"pushes (100/s to group '{Group}'): {push}");
    }

    private static void AssertNoPushLost(PushLoad push)
    {
        foreach (var r in push.Report())
        {
            Assert.True(r.Received == r.Expected, $"{r.Label}: connected clients got {r.Received} of {r.Expected} pushes");
        }
    }

    private static async Task DisposeAsync(List<TestWebSocket> all, PushControlClient control)
    {
        control.Dispose();
        await Task.WhenAll(all.Select(ws => ws.DisposeAsync().AsTask()));
    }
}
