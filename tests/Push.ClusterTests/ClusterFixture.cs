using System.Diagnostics;
using Push.Control;
using Push.Testing;
using Push.V1;

namespace Push.ClusterTests;

/// <summary>
/// A cluster of real `push` processes on loopback, each on its own 127.0.0.x address with OS-chosen ports:
/// registries on 127.0.0.2 (and .3), four gateways on 127.0.0.11-14, two workers on 127.0.0.21-22.
/// Leases are 2 s and peer calls time out after 1 s, so failures show within a few seconds.
/// Ready once every gateway sees three gateways and has a stream open to both workers.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    /// <summary>Gateways in the cluster: four, so that every scatter has several peers (a header shared between peer
    /// calls once made the second and later peers refuse them).</summary>
    public const int GatewayCount = 4;

    public static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(3); // long enough for the in-lease checks on a loaded machine
    public static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(1);

    private int _nextWorkerHost = 21;

    /// <summary>How many gateways the fixture starts.</summary>
    protected virtual int GatewayTotal => GatewayCount;

    /// <summary>How many registries the gateways and workers register with.</summary>
    protected virtual int RegistryCount => 1;

    public List<PushProcess> Registries { get; } = [];
    public List<PushProcess> Gateways { get; } = [];
    public List<PushProcess> Workers { get; } = [];

    /// <summary>One control client per gateway (index as <see cref="Gateways"/>).</summary>
    public List<PushControlClient> Controls { get; } = [];

    /// <summary>Gateway instance ids (index as <see cref="Gateways"/>).</summary>
    public List<string> GatewayIds { get; } = [];

    public IEnumerable<string> RegistryUrls => Registries.Select(r => r.GrpcAddress);

    private readonly List<PushProcess> _replaced = [];

    /// <summary>Puts a restarted registry in place of a killed one (the old process is disposed with the fixture).</summary>
    public void ReplaceRegistry(int index, PushProcess restarted)
    {
        _replaced.Add(Registries[index]);
        Registries[index] = restarted;
    }

    public static string RegistryHost(int index) => $"127.0.0.{2 + index}";

    public async Task InitializeAsync()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var started = Stopwatch.StartNew();
        for (var i = 0; i < RegistryCount; i++)
        {
            Registries.Add(await PushProcess.StartAsync("registry", host: RegistryHost(i), cancellationToken: ct));
        }
        var gateways = Enumerable.Range(1, GatewayTotal).Select(i => PushProcess.StartAsync("gateway", MemberArgs(), host: $"127.0.0.{10 + i}", cancellationToken: ct)).ToArray();
        var workers = Enumerable.Range(0, 2).Select(_ => StartWorkerProcessAsync(ct)).ToArray();
        await Task.WhenAll(gateways.Concat<Task>(workers)).ConfigureAwait(false);
        foreach (var g in gateways)
        {
            Gateways.Add(g.Result);
            Controls.Add(g.Result.Control());
        }
        Workers.AddRange(workers.Select(w => w.Result));
        await WaitForClusterAsync(gateways: GatewayTotal, workers: 2, ct);
        // Gateway ids are the prefix of their clients' ids; GetStatus names them with their addresses.
        var status = await Controls[0].GetStatusAsync(ct);
        foreach (var g in Gateways)
        {
            GatewayIds.Add(status.Gateways.Single(s => s.Address == g.GrpcAddress).Id);
        }
        StartupTime = started.Elapsed;
    }

    public TimeSpan StartupTime { get; private set; }

    /// <summary>--registry for every registry, 2 s leases, 1 s peer timeout.</summary>
    public IEnumerable<string> MemberArgs()
    {
        foreach (var url in RegistryUrls)
        {
            yield return "--registry";
            yield return url;
        }
        yield return "--set";
        yield return $"Cluster:LeaseTtl={LeaseTtl:c}";
        yield return "--set";
        yield return $"Cluster:PeerTimeout={PeerTimeout:c}";
    }

    /// <summary>
    /// Starts a new gateway process in place of gateway <paramref name="index"/> (which has exited: drained or killed),
    /// on the same 127.0.0.x address with new ports, and waits until the cluster sees it.
    /// </summary>
    public async Task<PushProcess> RestartGatewayAsync(int index, CancellationToken ct)
    {
        var old = Gateways[index];
        _replaced.Add(old);
        var g = await PushProcess.StartAsync("gateway", MemberArgs(), host: $"127.0.0.{11 + index}", cancellationToken: ct);
        Gateways[index] = g;
        Controls[index].Dispose();
        Controls[index] = g.Control();
        var status = await Controls[index].GetStatusAsync(ct);
        GatewayIds[index] = status.Gateways.Single(s => s.Address == g.GrpcAddress).Id;
        await WaitForClusterAsync(gateways: Gateways.Count(x => !x.HasExited), workers: Workers.Count(w => !w.HasExited), ct);
        return g;
    }

    /// <summary>Starts one more worker (next 127.0.0.x) and adds it to <see cref="Workers"/>.</summary>
    public async Task<PushProcess> StartWorkerAsync(CancellationToken ct)
    {
        var w = await StartWorkerProcessAsync(ct);
        Workers.Add(w);
        return w;
    }

    private Task<PushProcess> StartWorkerProcessAsync(CancellationToken ct)
        => PushProcess.StartAsync("worker", MemberArgs(), host: $"127.0.0.{Interlocked.Increment(ref _nextWorkerHost) - 1}", cancellationToken: ct);

    /// <summary>
    /// Polls GetStatus on every live gateway until each sees <paramref name="gateways"/> gateways answering, lists
    /// <paramref name="workers"/> workers and has a stream open to each of them.
    /// </summary>
    public async Task WaitForClusterAsync(int gateways, int workers, CancellationToken ct, TimeSpan? within = null)
    {
        GetStatusResponse? last = null;
        await Cluster.WaitUntilAsync(async () =>
        {
            foreach (var (control, i) in Controls.Select((c, i) => (c, i)))
            {
                if (Gateways[i].HasExited)
                {
                    continue;
                }
                last = await control.GetStatusAsync(ct);
                if (last.Reach.GatewaysTotal != gateways || last.Reach.GatewaysAnswered != gateways || last.Workers.Count != workers
                    || last.Gateways.Any(g => g.WorkersConnected != workers))
                {
                    return false;
                }
            }
            return true;
        }, () => $"every gateway sees {gateways} gateways and {workers} workers connected; last status:\n{last}\n{Logs()}", ct, within ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>The logs of every process, for failure messages.</summary>
    public string Logs()
        => string.Join("\n", Registries.Concat(Gateways).Concat(Workers).Select(p => $"---- {p.Description} (pid {p.Pid}{(p.HasExited ? ", exited" : string.Empty)})\n{p.Output}"));

    public async Task DisposeAsync()
    {
        foreach (var c in Controls)
        {
            c.Dispose();
        }
        await Task.WhenAll(Registries.Concat(Gateways).Concat(Workers).Concat(_replaced).Select(p => p.DisposeAsync().AsTask()));
    }
}

/// <summary>The same cluster with two registries: every gateway and worker registers with both.</summary>
public sealed class TwoRegistryClusterFixture : ClusterFixture
{
    protected override int RegistryCount => 2;
}
