using System.Diagnostics;
using System.Net.WebSockets;
using Push.Control;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>A registry, three gateways (Gateway:DrainTimeout 3 s) and two demo workers for the drain tests.</summary>
public sealed class DrainFixture : IAsyncLifetime
{
    internal TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
        => Cluster = await TestCluster.StartAsync(3, 2, gatewayArgs: ["--set", "Gateway:DrainTimeout=00:00:03"], ct: TestTimeouts.Token(TestTimeouts.Long));

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }
}

/// <summary>
/// Graceful drain: a gateway on SIGTERM or Drain refuses new clients (503), closes its clients with 1001, leaves the
/// registry at once and (on SIGTERM) exits within Gateway:DrainTimeout; a worker on SIGTERM answers what it has and
/// its clients move to the other worker.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DrainTests(DrainFixture fixture, ITestOutputHelper output) : IClassFixture<DrainFixture>
{
    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Sigterm_DrainsTheGateway_AndExitsWithinTheGrace()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(60));
        var gateway = Cluster.Gateways[0];
        var survivor = Cluster.Gateways[1];
        using var control = survivor.Control();
        var (clients, silent, gatewayId) = await ConnectClientsAsync(gateway, ct);
        try
        {
            Assert.Contains((await control.GetStatusAsync(ct)).Gateways, g => g.Id == gatewayId);
            var clock = Stopwatch.StartNew();
            gateway.Terminate();
            var watch = WatchRegistrationAsync(control, gatewayId, () => gateway.HasExited, ct);
            var first503 = await FirstRefusalAsync(gateway, ct);
            var closes = await Task.WhenAll(clients.Select(c => c.Closed.WaitAsync(TimeSpan.FromSeconds(10), ct)));
            var silentEnd = await silent.ReadUntilCloseAsync(ct);
            await gateway.WaitForExitAsync(TimeSpan.FromSeconds(15));
            var exitedAfter = clock.Elapsed;
            var (goneAfter, reappeared) = await watch;
            output.WriteLine($"SIGTERM: first handshake refused with {first503.Status} after {first503.After.TotalSeconds:F2} s; {closes.Count(c => c.Status == WebSocketCloseStatus.EndpointUnavailable)}/{clients.Count} clients closed with 1001; the silent client got {silentEnd}; gone from GetStatus after {goneAfter.TotalSeconds:F2} s; process exited after {exitedAfter.TotalSeconds:F2} s (Gateway:DrainTimeout 3 s)");
            Assert.Equal(503, first503.Status);
            Assert.All(closes, c => Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, c.Status));
            Assert.Equal(1001, silentEnd.CloseCode);
            Assert.False(reappeared, "the draining gateway reappeared in GetStatus (half-registered)");
            Assert.True(goneAfter < TimeSpan.FromSeconds(2), $"left GetStatus after {goneAfter.TotalSeconds:F1} s");
            Assert.True(exitedAfter < TimeSpan.FromSeconds(3 + 3), $"exited after {exitedAfter.TotalSeconds:F1} s, grace 3 s");
            var status = await control.GetStatusAsync(ct);
            Assert.DoesNotContain(status.Gateways, g => g.Id == gatewayId);
            Assert.DoesNotContain(gatewayId, status.Reach.UnreachableGatewayIds);
            await using var good = await TestWebSocket.ConnectAsync(survivor.Ws, cancellationToken: ct);
            await good.DrainUntilEchoAsync(ct);
        }
        finally
        {
            await DisposeAllAsync(clients, silent);
        }
    }

    [Fact]
    public async Task DrainRpc_DrainsButKeepsTheProcess()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(60));
        var gateway = Cluster.Gateways[2];
        var other = Cluster.Gateways[1];
        using var control = other.Control();
        using var target = gateway.MemberControl();
        var (clients, silent, gatewayId) = await ConnectClientsAsync(gateway, ct);
        try
        {
            Assert.Equal(200, await Probe.ReadyStatusAsync(gateway, ct));
            var clock = Stopwatch.StartNew();
            var drain = target.Raw.DrainAsync(new DrainRequest { Grace = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(2)) }, cancellationToken: ct).ResponseAsync;
            var watch = WatchRegistrationAsync(control, gatewayId, () => drain.IsCompleted, ct);
            var first503 = await FirstRefusalAsync(gateway, ct);
            var readyWhileDraining = await Probe.ReadyStatusAsync(gateway, ct);
            var closes = await Task.WhenAll(clients.Select(c => c.Closed.WaitAsync(TimeSpan.FromSeconds(10), ct)));
            var response = await drain;
            var drainTime = clock.Elapsed;
            var (goneAfter, reappeared) = await watch;
            var liveAfter = await new HttpClient().GetAsync(new Uri(gateway.Http!, "/healthz/live"), ct);
            var readyAfter = await Probe.ReadyStatusAsync(gateway, ct);
            output.WriteLine($"Drain RPC: {response.ClientsClosed} clients asked to go, returned after {drainTime.TotalSeconds:F2} s (grace 2 s); first handshake refused with {first503.Status} after {first503.After.TotalSeconds:F2} s; /healthz/ready {readyWhileDraining} while draining, {readyAfter} after; /healthz/live {(int)liveAfter.StatusCode}; gone from GetStatus after {goneAfter.TotalSeconds:F2} s; process alive: {!gateway.HasExited}");
            Assert.True(response.ClientsClosed >= clients.Count + 1, $"{response.ClientsClosed} clients closed"); // plus any probe handshake that won the race
            Assert.Equal(503, first503.Status);
            Assert.NotEqual(200, readyWhileDraining);
            Assert.NotEqual(200, readyAfter);
            Assert.True(liveAfter.IsSuccessStatusCode);
            Assert.All(closes, c => Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, c.Status));
            Assert.False(reappeared, "the drained gateway reappeared in GetStatus");
            Assert.False(gateway.HasExited);
            Assert.Equal(0, (await target.Raw.GetStatusAsync(new GetStatusRequest(), new Grpc.Core.Metadata { { "push-scope", "local" } }, cancellationToken: ct)).Gateways.Single().Connections);
            Assert.Equal(503, (await HandshakeStatusAsync(gateway, ct)));
        }
        finally
        {
            await DisposeAllAsync(clients, silent);
        }
    }

    [Fact]
    public async Task WorkerSigterm_AnswersInFlightEvents_AndClientsMoveToTheOtherWorker()
    {
        var ct = TestTimeouts.Token(TimeSpan.FromSeconds(60));
        var gateway = Cluster.Gateways[1];
        var leaving = Cluster.Workers[0];
        using var control = gateway.Control();
        var clients = new List<TestWebSocket>();
        try
        {
            for (var i = 0; i < 16; i++)
            {
                clients.Add(await TestWebSocket.ConnectAsync(gateway.Ws, cancellationToken: ct));
            }
            var load = new EchoLoad(clients, TimeSpan.FromSeconds(5));
            await Probe.UntilAsync(() => load.Echoed > 200, TimeSpan.FromSeconds(20), "echo load is running", ct);
            var before = load.Echoed;
            var clock = Stopwatch.StartNew();
            leaving.Terminate();
            await leaving.WaitForExitAsync(TimeSpan.FromSeconds(20));
            var exitedAfter = clock.Elapsed;
            var atExit = load.Echoed;
            await Probe.UntilAsync(() => load.Echoed > atExit + 200, TimeSpan.FromSeconds(20), "echoes go on through the other worker", ct);
            await load.StopAsync();
            output.WriteLine($"worker SIGTERM under load: exited after {exitedAfter.TotalSeconds:F2} s; {load}; {before} echoes before, {atExit - before} during the stop, {load.Echoed - atExit} after");
            Assert.Equal(0, load.Lost);
            Assert.Equal(0, load.Disconnected);
            await Probe.UntilWorkersAsync(control, 1, ct);
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }

    private static async Task<(List<TestWebSocket> Clients, RawWebSocket Silent, string GatewayId)> ConnectClientsAsync(PushProcess gateway, CancellationToken ct)
    {
        var clients = new List<TestWebSocket>();
        for (var i = 0; i < 5; i++)
        {
            clients.Add(await TestWebSocket.ConnectAsync(gateway.Ws, cancellationToken: ct));
        }
        // A client that never answers the close keeps the drain busy until its grace time is over.
        var silent = await RawWebSocket.ConnectAsync(gateway.Ws, ct: ct);
        await silent.ReadTextUntilAsync(t => t.Contains("clientId", StringComparison.Ordinal), ct);
        return (clients, silent, clients[0].ClientId[..16]);
    }

    private static async Task<int> HandshakeStatusAsync(PushProcess gateway, CancellationToken ct)
    {
        try
        {
            using var raw = await RawWebSocket.OpenAsync(gateway.Ws, ct: ct);
            return (await raw.HandshakeAsync(gateway.Ws, ct)).Status;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return 0; // not listening any more
        }
    }

    /// <summary>Tries handshakes until one is refused; returns its status and when.</summary>
    private static async Task<(int Status, TimeSpan After)> FirstRefusalAsync(PushProcess gateway, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            var status = await HandshakeStatusAsync(gateway, ct);
            if (status != 101)
            {
                return (status, clock.Elapsed);
            }
            await Task.Delay(20, ct);
        }
        return (101, clock.Elapsed);
    }

    /// <summary>Polls GetStatus of another gateway: when the gateway left it, and whether it ever came back.</summary>
    private static async Task<(TimeSpan GoneAfter, bool Reappeared)> WatchRegistrationAsync(PushControlClient control, string gatewayId, Func<bool> done, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan? gone = null;
        var reappeared = false;
        var until = TimeSpan.MaxValue;
        while (clock.Elapsed < until && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            var s = await control.GetStatusAsync(ct);
            var listed = s.Gateways.Any(g => g.Id == gatewayId) || s.Reach.UnreachableGatewayIds.Contains(gatewayId);
            if (!listed && gone is null)
            {
                gone = clock.Elapsed;
            }
            if (listed && gone is not null)
            {
                reappeared = true;
            }
            if (done() && until == TimeSpan.MaxValue)
            {
                until = clock.Elapsed + TimeSpan.FromSeconds(1); // keep watching a little after the end
            }
            await Task.Delay(50, ct);
        }
        return (gone ?? TimeSpan.MaxValue, reappeared);
    }

    private static async Task DisposeAllAsync(List<TestWebSocket> clients, RawWebSocket silent)
    {
        silent.Dispose();
        foreach (var c in clients)
        {
            await c.DisposeAsync();
        }
    }
}
