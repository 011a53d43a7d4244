using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The images deploy/build-image.sh builds, run as containers the way charts/push runs them (see
/// <see cref="ChartContainer"/>: the pod spec's user, read-only root, /tmp emptyDir, dropped capabilities, args and
/// env, taken from `helm template`): a registry, two gateways and a worker, each on the host network on a 127.0.0.x
/// address of its own, with the member and control secrets set. Needs the Docker engine .ci/setup starts.
/// </summary>
[Trait("Category", "Container")]
public sealed class ContainerClusterTests(ContainerImagesFixture images, ITestOutputHelper output) : IClassFixture<ContainerImagesFixture>
{
    private const int Ws = 8282;
    private const int Grpc = 8283;
    private const int Http = 8284;
    private const int GraceSeconds = 30; // gateway.terminationGracePeriodSeconds (values.yaml)

    [Fact]
    public async Task PushImage_RegistryTwoGatewaysDemoWorker_GreetsPushesAcrossGateways_StopDrainsWith1001()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        output.WriteLine(images.BuildLog);
        await using var cluster = await ContainerCluster.StartAsync(images, output, ["--set", "worker.demo=true"], pythonWorker: false, ct);

        // A real WebSocket client on gateway A is greeted by the demo worker container.
        await using var ws = await TestWebSocket.ConnectAsync(cluster.WsUri(cluster.GatewayA), cancellationToken: ct);
        Assert.Matches("^[0-9a-f]{40}$", ws.ClientId);

        // A push through gateway B's control API (the backend's control secret) reaches it on A.
        using var control = new Push.Control.PushControlClient(cluster.GrpcUri(cluster.GatewayB), new Push.Control.PushControlOptions { Secret = TestSecrets.Control });
        var delivered = await control.SendToClientAsync(ws.ClientId, "through gateway B", ct);
        Assert.Equal(1, delivered);
        Assert.Equal("through gateway B", await ws.ReceiveTextAsync(ct));

        // NOTES.txt's in-pod commands (kubectl exec deploy/push-gateway -- dotnet /app/push.dll send|status --grpc ...): the
        // CLI in the gateway container finds the control secret in the container's env (PUSH_CONTROL_SECRET).
        var grpcB = $"http://{cluster.GatewayB.Address}:{cluster.GatewayB.Port(Grpc)}";
        var exec = await Docker.CheckAsync("exec", cluster.GatewayB.Name, "dotnet", "/app/push.dll", "send", "--grpc", grpcB, "--client", ws.ClientId, "--text", "via kubectl exec");
        Assert.Equal("via kubectl exec", await ws.ReceiveTextAsync(ct));
        var status = await Docker.CheckAsync("exec", cluster.GatewayB.Name, "dotnet", "/app/push.dll", "status", "--grpc", grpcB);
        output.WriteLine($"push send in the container: {exec}\npush status in the container:\n{status}");
        Assert.Contains(cluster.GatewayA.Address, status, StringComparison.Ordinal);

        // docker stop (SIGTERM, then SIGKILL after the grace time) drains gateway A: 1001, then exit code 0 in time.
        var stopwatch = Stopwatch.StartNew();
        var stop = Docker.RunAsync(TimeSpan.FromSeconds(GraceSeconds + 30), "stop", "-t", GraceSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), cluster.GatewayA.Name);
        var closed = await ws.Closed.WaitAsync(ct);
        var stopped = await stop;
        var state = await Docker.CheckAsync("inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", cluster.GatewayA.Name);
        output.WriteLine($"gateway A: close {closed.Status} '{closed.Reason}', docker stop returned after {stopwatch.Elapsed.TotalSeconds:F1} s, state '{state}'");
        Assert.Equal(0, stopped.ExitCode);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, closed.Status);
        Assert.Equal("0 false", state); // 137 would mean docker had to kill it after the grace time
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(GraceSeconds), $"gateway A took {stopwatch.Elapsed} to stop");
    }

    [Fact]
    public async Task PushImage_MatchesTheReferenceDockerfilesRuntimeStage_AndHoldsNoSecret()
    {
        // The root Dockerfile's runtime stage (mcr.microsoft.com/dotnet/aspnet base) is what users with registry
        // access build; the offline image must declare the same user, entrypoint, ports and labels.
        var dockerfile = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "Dockerfile"));
        var runtime = dockerfile[dockerfile.IndexOf(" AS runtime", StringComparison.Ordinal)..];
        using var inspect = JsonDocument.Parse(await Docker.CheckAsync("image", "inspect", "--format", "{{json .Config}}", images.PushImage));
        var config = inspect.RootElement;

        Assert.Contains("""ENTRYPOINT ["dotnet", "/app/push.dll"]""", runtime, StringComparison.Ordinal);
        Assert.Equal(["dotnet", "/app/push.dll"], config.GetProperty("Entrypoint").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("USER $APP_UID", runtime, StringComparison.Ordinal); // 1654 in the aspnet image
        Assert.Equal("1654", config.GetProperty("User").GetString());
        Assert.Contains("WORKDIR /app", runtime, StringComparison.Ordinal);
        Assert.Equal("/app", config.GetProperty("WorkingDir").GetString());
        Assert.Contains("EXPOSE 8282 8283 8284", runtime, StringComparison.Ordinal);
        Assert.Equal(["8282/tcp", "8283/tcp", "8284/tcp"], config.GetProperty("ExposedPorts").EnumerateObject().Select(p => p.Name).Order());
        var labels = config.GetProperty("Labels");
        foreach (var key in new[] { "org.opencontainers.image.title", "org.opencontainers.image.description" })
        {
            Assert.Contains($"{key}=\"{labels.GetProperty(key).GetString()}\"", runtime, StringComparison.Ordinal);
        }
        Assert.Matches(@"^\d+\.\d+\.\d+", labels.GetProperty("org.opencontainers.image.version").GetString());
        var env = config.GetProperty("Env").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains("ASPNETCORE_HTTP_PORTS=", env);
        Assert.DoesNotContain(env, e => e.Contains("SECRET", StringComparison.OrdinalIgnoreCase));
        // No credential in the layers: the build context is a staged root filesystem, the build steps pass none.
        var history = await Docker.CheckAsync("history", "--no-trunc", "--format", "{{.CreatedBy}}", images.PushImage);
        Assert.DoesNotContain("SECRET", history, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task PythonWorkerImage_FromTheChartsCustomWorkerValues_RegistersAndAnswersClients()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var cluster = await ContainerCluster.StartAsync(images, output,
            ["-f", Path.Combine(RepoPaths.Root, "charts", "push", "ci", "custom-worker-values.yaml")], pythonWorker: true, ct);

        // Greeted by the Python worker container, through gateway A; its commands (join) act; a push via B arrives.
        await using var ws = await TestWebSocket.ConnectAsync(cluster.WsUri(cluster.GatewayA), expectGreeting: false, cancellationToken: ct);
        using var greeting = JsonDocument.Parse(await ws.ReceiveTextAsync(ct));
        var group = "ct-" + Guid.NewGuid().ToString("N")[..8];
        await ws.SendTextAsync($$"""{"type":"join","group":"{{group}}"}""", ct);
        var joined = await ws.ReceiveTextAsync(ct);
        using var control = new Push.Control.PushControlClient(cluster.GrpcUri(cluster.GatewayB), new Push.Control.PushControlOptions { Secret = TestSecrets.Control });
        var delivered = await control.SendToGroupAsync([group], "to the python group", ct);
        var pushed = await ws.ReceiveTextAsync(ct);

        Assert.Equal("from python", greeting.RootElement.GetProperty("hello").GetString());
        Assert.Equal(group, JsonDocument.Parse(joined).RootElement.GetProperty("joined").GetString());
        Assert.Equal(1, delivered);
        Assert.Equal("to the python group", pushed);

        // SIGTERM: the worker deregisters and exits 0.
        await Docker.CheckAsync("stop", "-t", "20", cluster.Worker.Name);
        Assert.Equal("0", await Docker.CheckAsync("inspect", "--format", "{{.State.ExitCode}}", cluster.Worker.Name));
        Assert.Contains("deregistering", (await Docker.RunAsync("logs", cluster.Worker.Name)).StandardOutput, StringComparison.Ordinal);
    }
}

/// <summary>Builds both images once per test class with unique tags (deploy/build-image.sh) and removes them afterwards.</summary>
public sealed class ContainerImagesFixture : IAsyncLifetime
{
    public string RunId { get; } = Guid.NewGuid().ToString("N")[..10];
    public string PushImage => $"push-ct/push:{RunId}";
    public string PythonWorkerImage => $"push-ct/push-worker-python:{RunId}";
    public string BuildLog { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        await Docker.RequireAsync();
        await Docker.RemoveLeftoversAsync();
        var push = await Docker.BuildImageAsync(PushImage, pythonWorker: false);
        var python = await Docker.BuildImageAsync(PythonWorkerImage, pythonWorker: true);
        BuildLog = push.StandardOutput + python.StandardOutput;
    }

    public async Task DisposeAsync()
    {
        await Docker.RunAsync("rmi", "--force", PushImage, PythonWorkerImage);
    }
}
