using System.Diagnostics;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.ToolingTests.Infrastructure;

/// <summary>
/// A registry, gateways A and B and one worker (the demo worker or the Python example worker) as containers, from the
/// pods `helm template` renders with the given values (see <see cref="ChartContainer"/>). Addresses 127.0.0.2-.5;
/// container names unique per run; every container is removed on dispose, its logs written to the test output.
/// </summary>
internal sealed class ContainerCluster : IAsyncDisposable
{
    private readonly List<ChartContainer> _containers = [];
    private readonly ITestOutputHelper _output;

    private ContainerCluster(ITestOutputHelper output) => _output = output;

    public ChartContainer Registry { get; private set; } = null!;
    public ChartContainer GatewayA { get; private set; } = null!;
    public ChartContainer GatewayB { get; private set; } = null!;
    public ChartContainer Worker { get; private set; } = null!;

    public Uri WsUri(ChartContainer gateway) => new($"ws://{gateway.Address}:{gateway.Port(8282)}/");

    public string GrpcUri(ChartContainer c) => $"http://{c.Address}:{c.Port(8283)}";

    public static async Task<ContainerCluster> StartAsync(ContainerImagesFixture images, ITestOutputHelper output, string[] values, bool pythonWorker, CancellationToken ct)
    {
        // drainTimeoutSeconds 2 instead of 10 keeps the test short; preStop (a kubelet hook) does not apply to docker stop.
        var render = await HelmTemplate.RenderAsync(["--set", "auth.existingSecret=push-auth", "--set", "gateway.drainTimeoutSeconds=2", .. values]);
        if (!render.Succeeded)
        {
            throw new InvalidOperationException(render.Result.Describe("helm template"));
        }
        var cluster = new ContainerCluster(output);
        var clock = Stopwatch.StartNew();
        try
        {
            var prefix = $"push-ct-{images.RunId}";
            Dictionary<string, string> Supplied(string name, string address) => new()
            {
                ["POD_IP"] = address,
                ["POD_NAME"] = name,
                ["POD_NAMESPACE"] = "push",
                ["PUSH_SECRET"] = TestSecrets.Member,
                ["PUSH_CONTROL_SECRET"] = TestSecrets.Control,
            };
            cluster.Registry = await cluster.RunAsync(ChartContainer.From(render.Get("StatefulSet", "registry"), images.PushImage, $"{prefix}-registry", "127.0.0.2", Supplied("registry", "127.0.0.2")), ct);
            var registry = new Dictionary<string, string> { ["PUSH_REGISTRY"] = cluster.GrpcUri(cluster.Registry) };
            cluster.GatewayA = await cluster.RunAsync(ChartContainer.From(render.Get("Deployment", "gateway"), images.PushImage, $"{prefix}-gateway-a", "127.0.0.3", Supplied("gateway-a", "127.0.0.3"), registry), ct);
            cluster.GatewayB = await cluster.RunAsync(ChartContainer.From(render.Get("Deployment", "gateway"), images.PushImage, $"{prefix}-gateway-b", "127.0.0.4", Supplied("gateway-b", "127.0.0.4"), registry), ct);
            var workerImage = pythonWorker ? images.PythonWorkerImage : images.PushImage;
            cluster.Worker = await cluster.RunAsync(ChartContainer.From(render.Get("Deployment", "worker"), workerImage, $"{prefix}-worker", "127.0.0.5", Supplied("worker", "127.0.0.5"), registry), ct, waitStartup: !pythonWorker);
            // Both gateways are ready ("Healthy") once their stream to the worker is open.
            await cluster.WaitProbeAsync(cluster.GatewayA, "/healthz/ready", requireHealthy: true, ct);
            await cluster.WaitProbeAsync(cluster.GatewayB, "/healthz/ready", requireHealthy: true, ct);
            output.WriteLine($"container cluster ready after {clock.Elapsed.TotalSeconds:F1} s");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task<ChartContainer> RunAsync(ChartContainer c, CancellationToken ct, bool waitStartup = true)
    {
        _output.WriteLine("docker " + string.Join(' ', c.RunArgs.Select(a => a.Contains(TestSecrets.Member, StringComparison.Ordinal) || a.Contains(TestSecrets.Control, StringComparison.Ordinal) ? a.Split('=')[0] + "=***" : a)));
        _containers.Add(c);
        await Docker.CheckAsync([.. c.RunArgs]);
        if (waitStartup)
        {
            await WaitProbeAsync(c, "/healthz/startup", requireHealthy: false, ct);
        }
        return c;
    }

    /// <summary>Polls the container's internal HTTP port (as the kubelet's probes do) until it answers 200 (and "Healthy").</summary>
    public async Task WaitProbeAsync(ChartContainer c, string path, bool requireHealthy, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TestTimeouts.Default);
        var uri = new Uri($"http://{c.Address}:{c.Port(8284)}{path}");
        while (true)
        {
            try
            {
                using var r = await http.GetAsync(uri, timeout.Token);
                if (r.IsSuccessStatusCode && (!requireHealthy || await r.Content.ReadAsStringAsync(timeout.Token) == "Healthy"))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!timeout.IsCancellationRequested)
            {
            }
            var running = await Docker.CheckAsync("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", c.Name);
            if (!running.StartsWith("true", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"container {c.Name} stopped ({running}) before {uri} answered:\n{(await Docker.RunAsync("logs", c.Name)).Describe("docker logs")}");
            }
            try
            {
                await Task.Delay(100, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{uri} ({c.Name}) did not answer 200{(requireHealthy ? " Healthy" : string.Empty)} within {TestTimeouts.Default.TotalSeconds} s");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _containers)
        {
            var logs = await Docker.RunAsync("logs", "--tail", "40", c.Name);
            _output.WriteLine($"--- {c.Name} (last 40 lines) ---\n{logs.StandardOutput}{logs.StandardError}");
        }
        if (_containers.Count > 0)
        {
            await Docker.RunAsync(["rm", "--force", .. _containers.Select(c => c.Name)]);
        }
    }
}
