using System.Diagnostics;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;

namespace Push.ClusterTests;

/// <summary>A fact that runs only with PUSH_MEASURE=1: measurements stay out of the test run.</summary>
public sealed class MeasureFactAttribute : FactAttribute
{
    public MeasureFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("PUSH_MEASURE") != "1")
        {
            Skip = "a measurement: run with PUSH_MEASURE=1";
        }
    }
}

/// <summary>
/// Indicative SendToGroup calls/s with one and with four gateways when every member lives on gateway 0 (200 clients
/// in 20 groups of 10, 64 calls in flight), the publisher on gateway 0 and, with four gateways, on gateway 1 too.
/// PUSH_MEASURE=1 dotnet test tests/Push.ClusterTests --filter FullyQualifiedName~InterestRoutingMeasure
/// </summary>
[Trait("Category", "Measure")]
public sealed class InterestRoutingMeasure(ITestOutputHelper output)
{
    private sealed class OneGateway : ClusterFixture
    {
        protected override int GatewayTotal => 1;
    }

    [MeasureFact]
    public async Task SendToGroup_OneAndFourGateways_MembersOnOne()
    {
        foreach (var cluster in new ClusterFixture[] { new OneGateway(), new ClusterFixture() })
        {
            await cluster.InitializeAsync();
            try
            {
                await RunAsync(cluster);
            }
            finally
            {
                await cluster.DisposeAsync();
            }
        }
    }

    private async Task RunAsync(ClusterFixture cluster)
    {
        var ct = TestTimeouts.Token(TimeSpan.FromMinutes(2));
        if (cluster.Gateways.Count > 1)
        {
            await InterestRouting.WaitInSyncAsync(cluster, ct);
        }
        var prefix = Cluster.Unique("m");
        var clients = new List<TestWebSocket>();
        try
        {
            for (var i = 0; i < 200; i++)
            {
                var ws = await TestWebSocket.ConnectAsync(cluster.Gateways[0].Ws, cancellationToken: ct);
                clients.Add(ws);
                await cluster.Controls[0].JoinGroupAsync(ws.ClientId, $"{prefix}-{i % 20}", ct);
            }
            foreach (var publisher in cluster.Gateways.Count > 1 ? new[] { 0, 1 } : [0])
            {
                for (var round = 0; round < 3; round++)
                {
                    var calls = 0L;
                    var asked = 0L;
                    var sw = Stopwatch.StartNew();
                    var until = TimeSpan.FromSeconds(3);
                    await Task.WhenAll(Enumerable.Range(0, 64).Select(k => Task.Run(async () =>
                    {
                        for (var n = k; sw.Elapsed < until; n += 64)
                        {
                            var r = await cluster.Controls[publisher].Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { $"{prefix}-{n % 20}" }, Text = "m" }, cancellationToken: ct);
                            Interlocked.Increment(ref calls);
                            Interlocked.Add(ref asked, r.Reach.GatewaysAsked);
                        }
                    }, ct)));
                    output.WriteLine($"{cluster.Gateways.Count} gateway(s), publisher on gateway {publisher}, round {round + 1}: {calls / sw.Elapsed.TotalSeconds:0} SendToGroup calls/s, {asked / (double)calls:0.00} gateways asked per call");
                }
            }
        }
        finally
        {
            await Cluster.DisposeAllAsync(clients);
        }
    }
}
