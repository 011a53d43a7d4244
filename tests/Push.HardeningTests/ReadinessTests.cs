using System.Net;
using System.Net.Sockets;
using Push.Control;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// /healthz/ready tells the truth (real processes with the default member and control secrets): a gateway is not ready while its only known worker
/// cannot be reached, while it knows no worker at all, or while it drains; it is ready once a worker stream opens.
/// /healthz/startup answers 200 from the first registration on, whatever readiness says.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ReadinessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Gateway_ReadyOnlyWithAnOpenWorkerStream_NotWhileDraining_StartupStays200()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        string[] member = ["--registry", registry.GrpcAddress];

        // A live, registered worker whose advertised address nobody listens on: known to the gateway, never reachable.
        var deadAddress = $"http://127.0.0.1:{UnusedPort()}";
        await using var unreachable = await PushProcess.StartAsync("worker", [.. member, "--advertise", deadAddress], cancellationToken: ct);
        await using var gateway = await PushProcess.StartAsync("gateway", member, cancellationToken: ct);
        using var control = gateway.Control();
        var log = new List<string>();
        try
        {
            await Probe.UntilAsync(async () => (await control.GetStatusAsync(ct)).Workers.Any(w => w.Address == deadAddress), TimeSpan.FromSeconds(20), "the gateway knows the unreachable worker", ct);
            await Probe.UntilAsync(() => gateway.Output.Split('\n').Any(l => l.Contains("warn", StringComparison.Ordinal) && l.Contains(deadAddress, StringComparison.Ordinal)), TimeSpan.FromSeconds(20), $"the gateway logged that the stream to {deadAddress} failed", ct);
            var status = (await control.GetStatusAsync(ct)).Gateways.Single();
            var onlyUnreachable = await ProbeAsync(gateway, "/healthz/ready", ct);
            var startup = await ProbeAsync(gateway, "/healthz/startup", ct);
            log.Add($"only an unreachable worker known: ready {onlyUnreachable}, startup {startup}, workers_connected {status.WorkersConnected}");
            Assert.Equal(0, status.WorkersConnected);
            Assert.Equal((503, "Unhealthy"), onlyUnreachable);
            Assert.Equal((200, "Healthy"), startup);

            // A reachable worker: ready once its stream is open; Degraded while the other known worker has none.
            await using (var good = await PushProcess.StartAsync("worker", member, cancellationToken: ct))
            {
                await Probe.UntilWorkersAsync(control, 1, ct);
                var withOne = await ProbeAsync(gateway, "/healthz/ready", ct);
                log.Add($"one of two known workers reachable: ready {withOne}");
                Assert.Equal((200, "Degraded"), withOne);

                // The unreachable one goes (its lease lapses): Healthy.
                unreachable.Kill();
                await UntilProbeAsync(gateway, "/healthz/ready", (200, "Healthy"), ct);
                log.Add("the unreachable worker gone: ready (200, Healthy)");

                // No worker known at all: not ready either (every event would be dropped).
                good.Kill();
                await UntilProbeAsync(gateway, "/healthz/ready", (503, "Unhealthy"), ct);
                Assert.Equal((200, "Healthy"), await ProbeAsync(gateway, "/healthz/startup", ct));
                log.Add("no worker at all: ready (503, Unhealthy), startup (200, Healthy)");
            }

            // A worker again: ready; then draining: not ready, while startup stays 200 and the process lives.
            await using var again = await PushProcess.StartAsync("worker", member, cancellationToken: ct);
            await UntilProbeAsync(gateway, "/healthz/ready", (200, "Healthy"), ct);
            using var memberControl = gateway.MemberControl(); // Drain is member scope
            var drain = await memberControl.Raw.DrainAsync(new DrainRequest { Grace = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(1)) }, cancellationToken: ct);
            var draining = await ProbeAsync(gateway, "/healthz/ready", ct);
            log.Add($"after Drain ({drain.ClientsClosed} clients): ready {draining}");
            Assert.Equal((503, "Unhealthy"), draining);
            Assert.Equal((200, "Healthy"), await ProbeAsync(gateway, "/healthz/startup", ct));
            Assert.False(gateway.HasExited);
        }
        finally
        {
            output.WriteLine(string.Join("\n", log));
        }
    }

    [Fact]
    public async Task Registry_StartupAndReadyOnceListening()
    {
        var ct = TestTimeouts.Token();
        await using var registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        Assert.Equal((200, "Healthy"), await ProbeAsync(registry, "/healthz/startup", ct));
        Assert.Equal((200, "Healthy"), await ProbeAsync(registry, "/healthz/ready", ct));
    }

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private static async Task<(int Code, string Body)> ProbeAsync(PushProcess p, string path, CancellationToken ct)
    {
        using var r = await Http.GetAsync(new Uri(p.Http!, path), ct);
        return ((int)r.StatusCode, await r.Content.ReadAsStringAsync(ct));
    }

    private static Task UntilProbeAsync(PushProcess p, string path, (int Code, string Body) expected, CancellationToken ct)
        => Probe.UntilAsync(async () => await ProbeAsync(p, path, ct) == expected, TimeSpan.FromSeconds(20), $"{path} answers {expected}", ct);

    /// <summary>A loopback port nothing listens on (bound once by the OS, then released).</summary>
    private static int UnusedPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
