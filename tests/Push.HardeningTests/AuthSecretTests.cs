using Grpc.Core;
using Grpc.Net.Client;
using Push.Control;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// The configuration users run beyond one machine: a registry, three gateways and a worker as separate processes, with
/// a member secret (Cluster:Secret, during a rotation: "new,old") and a control secret for backends
/// (Cluster:ControlSecret). Every internal stream (registration, worker streams, gateway-to-gateway fan-out to more
/// than one peer) must authenticate for this to work at all.
/// </summary>
public sealed class SecretClusterFixture : IAsyncLifetime
{
    public const string Secret = "member-s3cret-for-tests-0123456789";
    public const string OldSecret = "old-member-s3cret-for-tests-98765";
    public const string ControlSecret = "control-s3cret-for-tests-0123456789";

    public PushProcess Registry { get; private set; } = null!;
    public PushProcess Gateway1 { get; private set; } = null!;
    public PushProcess Gateway2 { get; private set; } = null!;
    public PushProcess Gateway3 { get; private set; } = null!;
    public PushProcess Worker { get; private set; } = null!;

    /// <summary>Control clients of gateways 1, 2 and 3 holding the backend credential.</summary>
    public PushControlClient Control1 { get; private set; } = null!;
    public PushControlClient Control2 { get; private set; } = null!;
    public PushControlClient Control3 { get; private set; } = null!;

    public string Diagnostics() => string.Join("\n", new[] { Registry, Gateway1, Gateway2, Gateway3, Worker }.Where(p => p is not null).Select(p => $"--- {p.Description}\n{p.Output}"));

    public async Task InitializeAsync()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        string[] secrets = ["--secret", $"{Secret},{OldSecret}", "--control-secret", ControlSecret];
        Registry = await PushProcess.StartAsync("registry", secrets, cancellationToken: ct);
        string[] member = ["--registry", Registry.GrpcAddress, .. secrets];
        var starts = new[]
        {
            PushProcess.StartAsync("gateway", member, cancellationToken: ct),
            PushProcess.StartAsync("gateway", member, cancellationToken: ct),
            PushProcess.StartAsync("gateway", member, cancellationToken: ct),
            PushProcess.StartAsync("worker", member, cancellationToken: ct),
        };
        await Task.WhenAll(starts.Select(t => (Task)t).ToArray()).ContinueWith(_ => { }, TaskScheduler.Default);
        Gateway1 = starts[0].IsCompletedSuccessfully ? starts[0].Result : null!;
        Gateway2 = starts[1].IsCompletedSuccessfully ? starts[1].Result : null!;
        Gateway3 = starts[2].IsCompletedSuccessfully ? starts[2].Result : null!;
        Worker = starts[3].IsCompletedSuccessfully ? starts[3].Result : null!;
        await Task.WhenAll(starts);
        Control1 = new PushControlClient(Gateway1.GrpcAddress, new PushControlOptions { Secret = ControlSecret });
        Control2 = new PushControlClient(Gateway2.GrpcAddress, new PushControlOptions { Secret = ControlSecret });
        Control3 = new PushControlClient(Gateway3.GrpcAddress, new PushControlOptions { Secret = ControlSecret });
        await AuthHelpers.WaitWorkerStreamsAsync(Control1, gateways: 3, workers: 1, ct, Diagnostics);
    }

    public async Task DisposeAsync()
    {
        Control1?.Dispose();
        Control2?.Dispose();
        Control3?.Dispose();
        foreach (var p in new[] { Worker, Gateway3, Gateway2, Gateway1, Registry })
        {
            if (p is not null)
            {
                await p.DisposeAsync();
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SecretClusterCollection : ICollectionFixture<SecretClusterFixture>
{
    public const string Name = "secret cluster";
}

[Trait("Category", "Integration")]
[Collection(SecretClusterCollection.Name)]
public sealed class AuthSecretTests(SecretClusterFixture cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task Secret_ClusterOfProcesses_WorksEndToEnd()
    {
        var ct = TestTimeouts.Token();
        // The greeting comes from the worker: the gateway's worker stream authenticated.
        await using var ws = await TestWebSocket.ConnectAsync(cluster.Gateway1.Ws, cancellationToken: ct);
        Assert.Equal("marker", (await SendEchoAsync(ws, "marker", ct)));

        // Join through gateway 2 (forwarded to gateway 1), push to the group through gateway 2 (scattered to gateway 1).
        await cluster.Control2.JoinGroupAsync(ws.ClientId, "secret-room", ct);
        var delivered = await cluster.Control2.SendToGroupAsync("secret-room", "through the peer", ct);

        Assert.Equal(1, delivered);
        Assert.Equal("through the peer", await ws.ReceiveTextAsync(ct));
        var status = await cluster.Control2.GetStatusAsync(ct);
        Assert.Equal(3, status.Reach.GatewaysAnswered);
    }

    [Fact]
    public async Task Secret_ControlCallWithoutCredentials_IsUnauthenticatedAndDoesNothing()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(cluster.Gateway1.Ws, cancellationToken: ct);
        using var anonymous = new PushControlClient(cluster.Gateway1.GrpcAddress);

        var join = await Assert.ThrowsAsync<RpcException>(() => anonymous.JoinGroupAsync(ws.ClientId, "anon-room", ct));
        var send = await Assert.ThrowsAsync<RpcException>(() => anonymous.SendToClientAsync(ws.ClientId, "should not arrive", ct));
        var query = await Assert.ThrowsAsync<RpcException>(() => anonymous.GetAllClientCountAsync(ct));

        Assert.Equal(StatusCode.Unauthenticated, join.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, send.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, query.StatusCode);
        Assert.Contains("missing credentials", join.Status.Detail, StringComparison.Ordinal);
        // Nothing happened: the group is empty (authenticated query) and the push never reached the client.
        Assert.Equal(0, await cluster.Control1.GetClientCountByGroupAsync("anon-room", ct));
        var before = await ws.DrainUntilEchoAsync(ct);
        Assert.Empty(before);
    }

    [Fact]
    public async Task Secret_WrongSecret_IsUnauthenticated()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(cluster.Gateway2.Ws, cancellationToken: ct);
        using var wrong = new PushControlClient(cluster.Gateway2.GrpcAddress, new PushControlOptions { Secret = "not-the-secret" });

        var ex = await Assert.ThrowsAsync<RpcException>(() => wrong.SendToClientAsync(ws.ClientId, "should not arrive", ct));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("invalid credentials", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(await ws.DrainUntilEchoAsync(ct));
    }

    [Fact]
    public async Task Secret_InternalServicesWithoutCredentials_AreUnauthenticated()
    {
        var ct = TestTimeouts.Token();
        // The registry and the worker refuse anonymous callers too (no registering, no fake gateway stream).
        using var registryChannel = GrpcChannel.ForAddress(cluster.Registry.GrpcAddress);
        var registry = new V1.RegistryService.RegistryServiceClient(registryChannel);
        var register = await Assert.ThrowsAsync<RpcException>(() => registry.RegisterAsync(new V1.RegisterRequest(), cancellationToken: ct).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, register.StatusCode);

        using var workerChannel = GrpcChannel.ForAddress(cluster.Worker.GrpcAddress);
        var worker = new V1.BusinessService.BusinessServiceClient(workerChannel);
        using var call = worker.StreamEvents(cancellationToken: ct);
        var stream = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(ct));
        Assert.Equal(StatusCode.Unauthenticated, stream.StatusCode);
    }

    [Fact]
    public async Task Secret_HealthCheck_AnswersWithoutCredentials()
    {
        var ct = TestTimeouts.Token();
        foreach (var p in new[] { cluster.Registry, cluster.Gateway1, cluster.Worker })
        {
            using var channel = GrpcChannel.ForAddress(p.GrpcAddress);
            var response = await channel.CreateCallInvoker().AsyncUnaryCall(AuthHelpers.HealthCheck, null, new CallOptions(cancellationToken: ct), []);
            // HealthCheckResponse { status = SERVING (1) } is the two bytes 08 01.
            Assert.Equal(new byte[] { 0x08, 0x01 }, response);
            output.WriteLine($"{p.Description.Split(' ')[1]}: health SERVING without credentials");
        }
    }

    private static async Task<string> SendEchoAsync(TestWebSocket ws, string text, CancellationToken ct)
    {
        await ws.SendTextAsync(text, ct);
        return await ws.ReceiveTextAsync(ct);
    }
}

[Trait("Category", "Integration")]
public sealed class AuthStartupWarningTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Start_NonLoopbackWithoutSecret_WarnsSecurity()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var open = await PushProcess.StartAsync("registry", ["--grpc", "0.0.0.0:0"], secured: false, cancellationToken: ct);
        await using var guarded = await PushProcess.StartAsync("registry", ["--grpc", "0.0.0.0:0", "--secret", "a-long-enough-secret-0123"], cancellationToken: ct);
        // The WebSocket port is public by design: with gRPC on loopback there is nothing to warn about.
        await using var publicWs = await PushProcess.StartAsync("start", ["--ws", "0.0.0.0:0"], secured: false, cancellationToken: ct);

        var warned = false;
        for (var i = 0; i < 100 && !(warned = open.Output.Contains("SECURITY", StringComparison.Ordinal)); i++)
        {
            await Task.Delay(50, ct);
        }

        Assert.True(warned, open.Output);
        // The ready file is written after the check, and the open process's warning has arrived, so the others' would have too.
        Assert.DoesNotContain("SECURITY", guarded.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("SECURITY", publicWs.Output, StringComparison.Ordinal);
        output.WriteLine(open.Output.Split('\n').First(l => l.Contains("SECURITY", StringComparison.Ordinal)));
    }
}

[Trait("Category", "Integration")]
public sealed class AuthSettingsTests
{
    [Theory]
    [InlineData(new[] { "--control-secret", "control-only-secret-0123456789" }, "needs Cluster:Secret")]
    [InlineData(new[] { "--secret", "short" }, "at least 16 characters")]
    [InlineData(new[] { "--secret", "a-long-enough-secret-0123,ab" }, "at least 16 characters")]
    public async Task Start_BadCredentialSettings_ExitsWithOneLine(string[] secrets, string message)
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);

        var (exit, output) = await CliRun.RunAsync(["registry", "--grpc", "127.0.0.1:0", "--http", "none", .. secrets], new Dictionary<string, string>(), ct);

        Assert.Equal(2, exit);
        Assert.Contains("push registry: invalid settings: ", output, StringComparison.Ordinal);
        Assert.Contains(message, output, StringComparison.Ordinal);
    }
}
