using System.Diagnostics;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;

namespace Push.ClusterTests;

/// <summary>Runs only with PUSH_NATS_MEASURE=1 (a measurement, not a test: it stays out of the test run).</summary>
public sealed class MeasurementFactAttribute : FactAttribute
{
    public MeasurementFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("PUSH_NATS_MEASURE") != "1")
        {
            Skip = "measurement: PUSH_NATS_MEASURE=1 dotnet test tests/Push.ClusterTests --filter FullyQualifiedName~NatsThroughputMeasurement";
        }
    }
}

/// <summary>
/// Indicative SendToGroup calls/s (docs/routing-nats.md): registry, worker, nats-server and 1 or 4 gateways on
/// loopback; 200 clients in 20 groups of 10, all on gateway 1; SendToGroup (64 B, 64 in flight) for 5 s through
/// gateway 1, in nats mode and in this branch's mesh stand-in (every push to every gateway) for contrast.
/// </summary>
[Trait("Category", "Measurement")]
public sealed class NatsThroughputMeasurement(ITestOutputHelper output)
{
    [MeasurementFact]
    public async Task SendToGroupCallsPerSecond_OneAndFourGateways()
    {
        foreach (var routing in new[] { "nats", "mesh" })
        {
            foreach (var gateways in new[] { 1, 4 })
            {
                var (calls, seconds, delivered) = await RunAsync(routing, gateways);
                output.WriteLine($"{routing}, {gateways} gateway(s): {calls / seconds:0} SendToGroup calls/s ({calls} calls in {seconds:0.0} s, {delivered} deliveries)");
            }
        }
    }

    private static async Task<(long Calls, double Seconds, long Delivered)> RunAsync(string routing, int gatewayCount)
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var nats = await NatsServer.StartAsync("127.0.0.30", cancellationToken: ct);
        var processes = new List<PushProcess>();
        var clients = new List<TestWebSocket>();
        try
        {
            var registry = await PushProcess.StartAsync("registry", host: "127.0.0.40", cancellationToken: ct);
            processes.Add(registry);
            string[] member = ["--registry", registry.GrpcAddress, "--set", $"Cluster:Routing={routing}", "--set", $"Cluster:NatsUrl={nats.Url}"];
            var started = await Task.WhenAll(Enumerable.Range(0, gatewayCount).Select(i => PushProcess.StartAsync("gateway", member, host: $"127.0.0.{41 + i}", cancellationToken: ct))
                .Append(PushProcess.StartAsync("worker", member, host: "127.0.0.49", cancellationToken: ct)));
            processes.AddRange(started);
            var gw = started[0];
            foreach (var g in started.Take(gatewayCount))
            {
                await g.WaitHealthyAsync(ct: ct);
            }
            using var control = gw.Control();
            while ((await control.GetStatusAsync(ct)).Reach.GatewaysAnswered != gatewayCount)
            {
                await Task.Delay(50, ct);
            }
            for (var i = 0; i < 200; i++)
            {
                var c = await TestWebSocket.ConnectAsync(gw.Ws, cancellationToken: ct);
                clients.Add(c);
                await control.JoinGroupAsync(c.ClientId, $"room{i % 20}", ct);
            }
            var text = new string('x', 64);
            long calls = 0, delivered = 0;
            async Task LoopAsync(int worker, TimeSpan duration)
            {
                var sw = Stopwatch.StartNew();
                for (var n = worker; sw.Elapsed < duration; n++)
                {
                    var r = await control.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { $"room{n % 20}" }, Text = text }, cancellationToken: ct);
                    Interlocked.Increment(ref calls);
                    Interlocked.Add(ref delivered, r.Delivered);
                }
            }
            await Task.WhenAll(Enumerable.Range(0, 64).Select(w => LoopAsync(w, TimeSpan.FromSeconds(1)))); // warm-up
            (calls, delivered) = (0, 0);
            var total = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 64).Select(w => LoopAsync(w, TimeSpan.FromSeconds(5))));
            return (calls, total.Elapsed.TotalSeconds, delivered);
        }
        finally
        {
            await Cluster.DisposeAllAsync(clients);
            await Task.WhenAll(processes.Select(p => p.DisposeAsync().AsTask()));
        }
    }
}
