using System.Text.Json;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The chart, rendered by helm (no cluster): secure by default. charts/validate.sh runs lint, schemas and the chart's
/// rules over every value set; the facts below are asserted on the rendered objects themselves.
/// </summary>
[Trait("Category", "Tooling")]
public sealed class HelmChartTests(ITestOutputHelper output)
{
    private static readonly string[] Auth = ["--set", "auth.existingSecret=push-auth"];

    [Fact]
    public async Task Chart_LintsRendersAndValidatesAgainstKubernetesSchemas()
    {
        // Arrange
        string[] args = [Path.Combine(RepoPaths.Root, "charts", "validate.sh")];

        // Act
        var r = await ExternalProcess.RunAsync("bash", args, TimeSpan.FromMinutes(3));
        output.WriteLine(r.StandardOutput);
        output.WriteLine(r.StandardError);

        // Assert
        Assert.True(r.ExitCode == 0, r.Describe("charts/validate.sh (run .ci/setup first if helm or node modules are missing)"));
        Assert.Contains("PASS: charts/push is valid", r.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Template_Defaults_FailsNamingAuthExistingSecretAndHowToCreateIt()
    {
        // Act
        var render = await HelmTemplate.RenderAsync();

        // Assert
        output.WriteLine(render.Result.StandardError);
        Assert.False(render.Succeeded, "the defaults must not render without credentials");
        Assert.Contains("auth.existingSecret is required", render.Result.StandardError, StringComparison.Ordinal);
        Assert.Contains(
            "kubectl -n push create secret generic push-auth --from-literal=secret=$(openssl rand -hex 32) --from-literal=control-secret=$(openssl rand -hex 32)",
            render.Result.StandardError, StringComparison.Ordinal);
        Assert.Contains("auth.insecure=true", render.Result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Template_Insecure_RendersWithoutAnySecret()
    {
        // Act
        var render = await HelmTemplate.RenderAsync("--set", "auth.insecure=true");

        // Assert
        Assert.True(render.Succeeded, render.Result.Describe("helm template --set auth.insecure=true"));
        Assert.All(Workloads(render), w => Assert.Null(Env(Container(w), "PUSH_SECRET")));
        Assert.NotEmpty(render.OfKind("NetworkPolicy"));
    }

    [Fact]
    public async Task Template_WithExistingSecret_RendersANetworkPolicyPerComponentAndNoWorker()
    {
        // Act
        var render = await HelmTemplate.RenderAsync(Auth);

        // Assert
        Assert.True(render.Succeeded, render.Result.Describe("helm template with auth.existingSecret"));
        Assert.Null(render.Find("Deployment", "worker"));
        Assert.Null(render.Find("NetworkPolicy", "worker"));
        Assert.Equal(2, render.OfKind("NetworkPolicy").Count());
        var gateway = render.Get("NetworkPolicy", "gateway");
        Assert.Equal("gateway", gateway.GetProperty("spec").GetProperty("podSelector").GetProperty("matchLabels").GetProperty("app.kubernetes.io/component").GetString());
        var rules = gateway.GetProperty("spec").GetProperty("ingress").EnumerateArray().ToList();
        // ws: open to everyone (no `from`); gRPC: only the release's pods; internal HTTP: any pod of the cluster.
        Assert.False(RuleFor(rules, 8282).TryGetProperty("from", out _));
        var grpcFrom = Assert.Single(RuleFor(rules, 8283).GetProperty("from").EnumerateArray());
        var releasePods = grpcFrom.GetProperty("podSelector").GetProperty("matchLabels");
        Assert.Equal("push", releasePods.GetProperty("app.kubernetes.io/instance").GetString());
        Assert.Equal("push", releasePods.GetProperty("app.kubernetes.io/name").GetString());
        Assert.False(releasePods.TryGetProperty("app.kubernetes.io/component", out _));
        Assert.False(grpcFrom.TryGetProperty("namespaceSelector", out _));
        var metricsFrom = Assert.Single(RuleFor(rules, 8284).GetProperty("from").EnumerateArray());
        Assert.Empty(metricsFrom.GetProperty("namespaceSelector").EnumerateObject());
    }

    [Fact]
    public async Task Template_ControlFrom_AdmitsBackendsToTheGatewaysGrpcPortOnly()
    {
        // Act
        var render = await HelmTemplate.RenderAsync([.. Auth, "--set", "networkPolicy.controlFrom[0].podSelector.matchLabels.app=shop-api"]);

        // Assert
        Assert.True(render.Succeeded, render.Result.Describe("helm template with networkPolicy.controlFrom"));
        var gatewayGrpc = RuleFor(render.Get("NetworkPolicy", "gateway").GetProperty("spec").GetProperty("ingress").EnumerateArray().ToList(), 8283);
        Assert.Contains(gatewayGrpc.GetProperty("from").EnumerateArray(),
            p => p.TryGetProperty("podSelector", out var s) && s.GetProperty("matchLabels").TryGetProperty("app", out var app) && app.GetString() == "shop-api");
        var registryGrpc = RuleFor(render.Get("NetworkPolicy", "registry").GetProperty("spec").GetProperty("ingress").EnumerateArray().ToList(), 8283);
        Assert.Single(registryGrpc.GetProperty("from").EnumerateArray());
    }

    [Fact]
    public async Task Template_WithExistingSecret_GivesTheMemberSecretToEveryPodAndTheControlSecretToGatewaysOnly()
    {
        // Act
        var render = await HelmTemplate.RenderAsync([.. Auth, "--set", "worker.demo=true"]);

        // Assert
        Assert.True(render.Succeeded, render.Result.Describe("helm template"));
        var workloads = Workloads(render).ToList();
        Assert.Equal(3, workloads.Count);
        foreach (var w in workloads)
        {
            var container = Container(w);
            var member = Env(container, "PUSH_SECRET") ?? throw new Xunit.Sdk.XunitException($"{Name(w)} has no PUSH_SECRET");
            Assert.Equal("push-auth", member.GetProperty("valueFrom").GetProperty("secretKeyRef").GetProperty("name").GetString());
            Assert.Equal("secret", member.GetProperty("valueFrom").GetProperty("secretKeyRef").GetProperty("key").GetString());
            var control = Env(container, "PUSH_CONTROL_SECRET");
            if (Name(w).EndsWith("-gateway", StringComparison.Ordinal))
            {
                Assert.NotNull(control);
                Assert.Equal("control-secret", control.Value.GetProperty("valueFrom").GetProperty("secretKeyRef").GetProperty("key").GetString());
            }
            else
            {
                Assert.Null(control);
            }
        }
    }

    [Fact]
    public async Task Template_RolloutToken_IsOnEveryPodTemplate()
    {
        // Act
        var render = await HelmTemplate.RenderAsync([.. Auth, "--set", "worker.demo=true", "--set", "auth.rolloutToken=rotated-2026-12-01"]);

        // Assert
        Assert.True(render.Succeeded, render.Result.Describe("helm template"));
        Assert.All(Workloads(render), w => Assert.Equal("rotated-2026-12-01",
            w.GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("annotations").GetProperty("push/auth-rollout-token").GetString()));
    }

    [Fact]
    public async Task Template_WorkerDemo_RunsPushWorkerFromThePushImage()
    {
        // Act
        var render = await HelmTemplate.RenderAsync([.. Auth, "--set", "worker.demo=true"]);

        // Assert
        Assert.True(render.Succeeded, render.Result.Describe("helm template --set worker.demo=true"));
        var worker = render.Get("Deployment", "worker");
        var container = Container(worker);
        Assert.StartsWith("push-grpc/push:", container.GetProperty("image").GetString(), StringComparison.Ordinal);
        Assert.Equal("worker", container.GetProperty("args")[0].GetString());
        Assert.False(container.TryGetProperty("command", out _));
        Assert.Equal("demo", worker.GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("annotations").GetProperty("push/worker").GetString());
        Assert.NotNull(render.Find("NetworkPolicy", "worker"));
    }

    [Fact]
    public async Task Template_WorkerImage_RunsTheUsersImageCommandAndArgsWithTheClusterEnv()
    {
        // Act
        var render = await HelmTemplate.RenderAsync(
        [
            .. Auth,
            "--set", "worker.image.repository=registry.example.com/shop/push-worker",
            "--set-string", "worker.image.tag=1.4.2",
            "--set", "worker.command={/usr/bin/python3,/app/worker.py}",
            "--set", "worker.args={--listen,$(PUSH_GRPC),--advertise,$(PUSH_ADVERTISE)}",
            "--set", "worker.env[0].name=SHOP_URL", "--set", "worker.env[0].value=http://shop",
        ]);

        // Assert
        Assert.True(render.Succeeded, render.Result.Describe("helm template with worker.image"));
        var worker = render.Get("Deployment", "worker");
        var container = Container(worker);
        Assert.Equal("registry.example.com/shop/push-worker:1.4.2", container.GetProperty("image").GetString());
        Assert.Equal(["/usr/bin/python3", "/app/worker.py"], container.GetProperty("command").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["--listen", "$(PUSH_GRPC)", "--advertise", "$(PUSH_ADVERTISE)"], container.GetProperty("args").EnumerateArray().Select(e => e.GetString()));
        var env = container.GetProperty("env").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Equal(["POD_NAME", "POD_NAMESPACE", "POD_IP", "PUSH_SECRET", "PUSH_REGISTRY", "PUSH_ADVERTISE", "PUSH_GRPC", "PUSH_HTTP", "SHOP_URL"], env);
        Assert.Equal("0.0.0.0:8283", Env(container, "PUSH_GRPC")!.Value.GetProperty("value").GetString());
        Assert.Equal("http://$(POD_IP):8283", Env(container, "PUSH_ADVERTISE")!.Value.GetProperty("value").GetString());
        Assert.StartsWith("http://push-registry-0.push-registry-headless.push.svc.cluster.local:8283",
            Env(container, "PUSH_REGISTRY")!.Value.GetProperty("value").GetString(), StringComparison.Ordinal);
        Assert.Equal("custom", worker.GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("annotations").GetProperty("push/worker").GetString());
        // Your image is probed on its gRPC port unless you say otherwise.
        Assert.Equal("grpc", container.GetProperty("readinessProbe").GetProperty("tcpSocket").GetProperty("port").GetString());
    }

    [Theory]
    [InlineData("worker.demo is true and worker.image.repository is set", "worker.demo=true", "worker.image.repository=example.com/w")]
    [InlineData("set worker.image.tag as well", "worker.image.repository=example.com/w", "worker.replicaCount=1")]
    [InlineData("auth.insecure is true but auth.existingSecret is set", "auth.insecure=true", "worker.replicaCount=1")]
    public async Task Template_ContradictingValues_FailWithAMessage(string expected, string set1, string set2)
    {
        // Act
        var render = await HelmTemplate.RenderAsync([.. Auth, "--set", set1, "--set", set2]);

        // Assert
        Assert.False(render.Succeeded, $"--set {set1} --set {set2} must not render");
        Assert.Contains(expected, render.Result.StandardError, StringComparison.Ordinal);
    }

    private static IEnumerable<JsonElement> Workloads(HelmRender render) => render.OfKind("Deployment").Concat(render.OfKind("StatefulSet"));

    private static string Name(JsonElement doc) => doc.GetProperty("metadata").GetProperty("name").GetString()!;

    private static JsonElement Container(JsonElement workload)
        => Assert.Single(workload.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers").EnumerateArray());

    private static JsonElement? Env(JsonElement container, string name)
    {
        foreach (var e in container.GetProperty("env").EnumerateArray())
        {
            if (e.GetProperty("name").GetString() == name)
            {
                return e;
            }
        }
        return null;
    }

    private static JsonElement RuleFor(List<JsonElement> rules, int port)
        => Assert.Single(rules, r => r.GetProperty("ports").EnumerateArray().Any(p => p.GetProperty("port").GetInt32() == port));
}
