using System.Diagnostics;
using Push.Control;
using Push.Testing;
using Push.V1;

namespace Push.ClusterTests;

/// <summary>
/// Gateways in NATS routing mode (Cluster:Routing=nats) against real nats-server processes: one server on 127.0.0.30
/// (or, with <see cref="NatsNodes"/> 3, a 3-node NATS cluster on 127.0.0.31-33, gateway i preferring node i), one
/// registry (127.0.0.40), three gateways (127.0.0.41-43), one demo worker (127.0.0.45); secrets set, default limits.
/// Ready once every gateway sees three gateways and the worker, and its /healthz/ready (NATS included) answers 200.
/// </summary>
public class NatsClusterFixture : IAsyncLifetime
{
    public const int GatewayCount = 3;

    protected virtual int NatsNodes => 1;

    public NatsServer[] Nats { get; private set; } = [];
    public List<PushProcess> Processes { get; } = [];
    public List<PushProcess> Gateways { get; } = [];
    public List<PushControlClient> Controls { get; } = [];
    public List<string> GatewayIds { get; } = [];
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Cluster:NatsUrl of gateway <paramref name="index"/>: every node, starting with node index % nodes.</summary>
    public string NatsUrlFor(int index)
        => string.Join(',', Enumerable.Range(0, Nats.Length).Select(i => Nats[(index + i) % Nats.Length].Url));

    public async Task InitializeAsync()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var started = Stopwatch.StartNew();
        Nats = NatsNodes == 1 ? [await NatsServer.StartAsync("127.0.0.30", cancellationToken: ct)] : await NatsServer.StartClusterAsync(31, ct);
        var registry = await PushProcess.StartAsync("registry", host: "127.0.0.40", cancellationToken: ct);
        Processes.Add(registry);
        string[] member = ["--registry", registry.GrpcAddress, "--set", $"Cluster:LeaseTtl={ClusterFixture.LeaseTtl:c}", "--set", $"Cluster:PeerTimeout={ClusterFixture.PeerTimeout:c}"];
        var gateways = Enumerable.Range(0, GatewayCount).Select(i => PushProcess.StartAsync("gateway",
            [.. member, "--set", "Cluster:Routing=nats", "--set", $"Cluster:NatsUrl={NatsUrlFor(i)}"], host: $"127.0.0.{41 + i}", cancellationToken: ct)).ToArray();
        var worker = PushProcess.StartAsync("worker", member, host: "127.0.0.45", cancellationToken: ct);
        await Task.WhenAll(gateways.Append(worker));
        Processes.Add(worker.Result);
        foreach (var g in gateways)
        {
            Gateways.Add(g.Result);
            Processes.Add(g.Result);
            Controls.Add(g.Result.Control());
        }
        await WaitForClusterAsync(ct);
        var status = await Controls[0].GetStatusAsync(ct);
        foreach (var g in Gateways)
        {
            GatewayIds.Add(status.Gateways.Single(s => s.Address == g.GrpcAddress).Id);
        }
        StartupTime = started.Elapsed;
    }

    public async Task WaitForClusterAsync(CancellationToken ct)
    {
        GetStatusResponse? last = null;
        await Cluster.WaitUntilAsync(async () =>
        {
            foreach (var (control, i) in Controls.Select((c, i) => (c, i)))
            {
                last = await control.GetStatusAsync(ct);
                if (last.Reach.GatewaysAnswered != GatewayCount || last.Workers.Count != 1 || last.Gateways.Any(g => g.WorkersConnected != 1)
                    || (await Cluster.ReadinessAsync(Gateways[i], ct)).Code != 200)
                {
                    return false;
                }
            }
            return true;
        }, () => $"every gateway sees {GatewayCount} gateways, the worker and NATS; last status:\n{last}\n{Logs()}", ct, TimeSpan.FromSeconds(60));
    }

    /// <summary>A counter of NATS routing on gateway <paramref name="index"/>'s /metrics (e.g. "received", kind "group").</summary>
    public Task<double> NatsMetricAsync(int index, string counter, string? label, CancellationToken ct)
        => Cluster.MetricAsync(Gateways[index], $"push_gateway_routing_nats_{counter}_total", label, ct);

    public string Logs()
        => string.Join("\n", Processes.Select(p => $"---- {p.Description} (pid {p.Pid}{(p.HasExited ? ", exited" : string.Empty)})\n{p.Output}"))
            + string.Join("\n", Nats.Select(n => $"---- nats-server {n.Name} {n.Url} (pid {n.Pid}{(n.HasExited ? ", exited" : string.Empty)})\n{n.Output}"));

    public async Task DisposeAsync()
    {
        foreach (var c in Controls)
        {
            c.Dispose();
        }
        await Task.WhenAll(Processes.Select(p => p.DisposeAsync().AsTask()));
        foreach (var n in Nats)
        {
            await n.DisposeAsync();
        }
    }
}

/// <summary>The same gateways on a 3-node NATS cluster (gateway i connects to node i first).</summary>
public sealed class NatsThreeNodeFixture : NatsClusterFixture
{
    protected override int NatsNodes => 3;
}
