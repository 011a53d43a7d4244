using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Push.Control;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// Roles on the secret cluster (three gateways): the backend credential pushes through any gateway to every gateway's
/// clients, but cannot register members, open worker streams, make gateway-to-gateway calls or drain; old member
/// secrets keep working during a rotation; a live member cannot be taken over.
/// </summary>
[Trait("Category", "Integration")]
[Collection(SecretClusterCollection.Name)]
public sealed class AuthRoleTests(SecretClusterFixture cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task ControlCredential_PushThroughAnyGateway_ReachesEveryGateway()
    {
        var ct = TestTimeouts.Token();
        var gateways = new[] { cluster.Gateway1, cluster.Gateway2, cluster.Gateway3 };
        var clients = new List<TestWebSocket>();
        try
        {
            foreach (var g in gateways)
            {
                var ws = await TestWebSocket.ConnectAsync(g.Ws, cancellationToken: ct);
                clients.Add(ws);
                await cluster.Control1.JoinGroupAsync(ws.ClientId, "role-room", ct);
            }
            // Repeated scatters through each gateway: every peer of every call must answer (a shared header object
            // once made the second and later peers refuse).
            foreach (var control in new[] { cluster.Control1, cluster.Control2, cluster.Control3 })
            {
                for (var round = 0; round < 3; round++)
                {
                    var r = await control.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { "role-room" }, Text = $"r{round}" }, cancellationToken: ct);
                    Assert.Equal(3, r.Delivered);
                    Assert.Equal(3, r.Reach.GatewaysAnswered);
                    Assert.Empty(r.Reach.UnreachableGatewayIds);
                    foreach (var ws in clients)
                    {
                        Assert.Equal($"r{round}", await ws.ReceiveTextAsync(ct));
                    }
                }
                var count = await control.Raw.GetClientCountByGroupAsync(new GetClientCountByGroupRequest { Group = "role-room" }, cancellationToken: ct);
                Assert.Equal(3, count.Count);
                Assert.Equal(3, count.Reach.GatewaysAnswered);
                var status = await control.GetStatusAsync(ct);
                Assert.Equal(3, status.Gateways.Count);
            }
        }
        finally
        {
            foreach (var ws in clients)
            {
                await ws.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ControlCredential_MemberScope_IsPermissionDenied()
    {
        var ct = TestTimeouts.Token();
        var control = new Metadata { { "authorization", "Bearer " + SecretClusterFixture.ControlSecret } };

        using var registryChannel = GrpcChannel.ForAddress(cluster.Registry.GrpcAddress);
        var registry = new RegistryService.RegistryServiceClient(registryChannel);
        var rogue = new RegisterRequest { Member = new Member { Id = "rogue", Role = MemberRole.Worker, Address = "http://127.0.0.1:1" } };
        AssertDenied(await Assert.ThrowsAsync<RpcException>(() => registry.RegisterAsync(rogue, control, cancellationToken: ct).ResponseAsync), "registering");
        // Reading the membership is allowed: backends may find the gateways.
        var members = await registry.ListMembersAsync(new ListMembersRequest(), control, cancellationToken: ct);
        Assert.Equal(4, members.Members.Count);

        using var workerChannel = GrpcChannel.ForAddress(cluster.Worker.GrpcAddress);
        using var stream = new BusinessService.BusinessServiceClient(workerChannel).StreamEvents(control, cancellationToken: ct);
        AssertDenied(await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext(ct)), "worker streams");

        using var gatewayChannel = GrpcChannel.ForAddress(cluster.Gateway1.GrpcAddress);
        var gateway = new GatewayService.GatewayServiceClient(gatewayChannel);
        AssertDenied(await Assert.ThrowsAsync<RpcException>(() => gateway.DrainAsync(new DrainRequest(), control, cancellationToken: ct).ResponseAsync), "Drain");
        // Routing matches method names case-insensitively: the decision follows the endpoint's method, not the path.
        var lowerCaseDrain = new Method<DrainRequest, DrainResponse>(MethodType.Unary, "push.v1.GatewayService", "drain",
            Marshallers.Create<DrainRequest>(r => Google.Protobuf.MessageExtensions.ToByteArray(r), DrainRequest.Parser.ParseFrom),
            Marshallers.Create<DrainResponse>(r => Google.Protobuf.MessageExtensions.ToByteArray(r), DrainResponse.Parser.ParseFrom));
        AssertDenied(await Assert.ThrowsAsync<RpcException>(() => gatewayChannel.CreateCallInvoker().AsyncUnaryCall(lowerCaseDrain, null, new CallOptions(control, cancellationToken: ct), new DrainRequest()).ResponseAsync), "drain (lower case)");
        var forwarded = new Metadata { { "authorization", "Bearer " + SecretClusterFixture.ControlSecret }, { "push-scope", "local" } };
        AssertDenied(await Assert.ThrowsAsync<RpcException>(() => gateway.GetAllClientCountAsync(new GetAllClientCountRequest(), forwarded, cancellationToken: ct).ResponseAsync), "push-scope");

        // Still serving: nothing was drained or registered.
        var status = await cluster.Control1.GetStatusAsync(ct);
        Assert.All(status.Gateways, g => Assert.False(g.Draining));
        Assert.DoesNotContain(status.Workers, w => w.Id == "rogue");
    }

    [Fact]
    public async Task Rotation_OldAndNewMemberSecrets_BothAccepted()
    {
        var ct = TestTimeouts.Token();
        foreach (var secret in new[] { SecretClusterFixture.Secret, SecretClusterFixture.OldSecret, SecretClusterFixture.ControlSecret })
        {
            using var client = new PushControlClient(cluster.Gateway2.GrpcAddress, new PushControlOptions { Secret = secret });
            var status = await client.GetStatusAsync(ct);
            Assert.Equal(3, status.Reach.GatewaysAnswered);
        }
    }

    [Fact]
    public async Task Registry_LiveMemberMovedElsewhere_IsRefusedAndKeepsItsAddress()
    {
        var ct = TestTimeouts.Token();
        var member = new Metadata { { "authorization", "Bearer " + SecretClusterFixture.Secret } };
        using var channel = GrpcChannel.ForAddress(cluster.Registry.GrpcAddress);
        var registry = new RegistryService.RegistryServiceClient(channel);
        var live = (await registry.ListMembersAsync(new ListMembersRequest { Role = MemberRole.Gateway }, member, cancellationToken: ct)).Members.First();

        var takeOver = new RegisterRequest { Member = new Member { Id = live.Id, Role = MemberRole.Gateway, Address = "http://127.0.0.99:9" } };
        var ex = await Assert.ThrowsAsync<RpcException>(() => registry.RegisterAsync(takeOver, member, cancellationToken: ct).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal("ERROR_REASON_MEMBER_CONFLICT", ex.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason);
        var asWorker = new RegisterRequest { Member = new Member { Id = live.Id, Role = MemberRole.Worker, Address = live.Address } };
        Assert.Equal(StatusCode.FailedPrecondition, (await Assert.ThrowsAsync<RpcException>(() => registry.RegisterAsync(asWorker, member, cancellationToken: ct).ResponseAsync)).StatusCode);
        // Renewing or removing someone else's lease needs its token.
        var unchanged = await Assert.ThrowsAsync<RpcException>(() => registry.RegisterAsync(new RegisterRequest { Member = live }, member, cancellationToken: ct).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, unchanged.StatusCode); // no token handed to someone who only knows the id
        var renew = await Assert.ThrowsAsync<RpcException>(() => registry.KeepAliveAsync(new KeepAliveRequest { Id = live.Id, LeaseToken = "guess" }, member, cancellationToken: ct).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, renew.StatusCode);
        var remove = await Assert.ThrowsAsync<RpcException>(() => registry.DeregisterAsync(new DeregisterRequest { Id = live.Id }, member, cancellationToken: ct).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, remove.StatusCode);
        var bad = await Assert.ThrowsAsync<RpcException>(() => registry.RegisterAsync(new RegisterRequest { Member = new Member { Id = "../../etc", Role = MemberRole.Worker, Address = "http://127.0.0.1:1" } }, member, cancellationToken: ct).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);

        var after = (await registry.ListMembersAsync(new ListMembersRequest { Role = MemberRole.Gateway }, member, cancellationToken: ct)).Members.Single(m => m.Id == live.Id);
        Assert.Equal(live.Address, after.Address);
        output.WriteLine($"take-over refused: {ex.Status.Detail}");
    }

    [Fact]
    public async Task Cli_SendAndStatusWithControlSecretFromEnvironment_Work()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(cluster.Gateway3.Ws, cancellationToken: ct);
        await cluster.Control1.BindUidAsync(ws.ClientId, "cli-user", ct);
        var env = new Dictionary<string, string> { ["PUSH_CONTROL_SECRET"] = SecretClusterFixture.ControlSecret, ["PUSH_GRPC"] = cluster.Gateway1.GrpcAddress };

        var send = await CliRun.RunAsync(["send", "--uid", "cli-user", "--text", "from the shell"], env, ct);
        var status = await CliRun.RunAsync(["status"], env, ct);

        Assert.True(send.ExitCode == 0, send.Output);
        Assert.Contains("\"delivered\":1", send.Output, StringComparison.Ordinal);
        Assert.Equal("from the shell", await ws.ReceiveTextAsync(ct));
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains("Gateways: 3 answering of 3", status.Output, StringComparison.Ordinal);
        var anonymous = await CliRun.RunAsync(["status", "--grpc", cluster.Gateway1.GrpcAddress], new Dictionary<string, string>(), ct);
        Assert.Equal(1, anonymous.ExitCode);
        Assert.Contains("Unauthenticated: missing credentials", anonymous.Output, StringComparison.Ordinal);
    }

    private static void AssertDenied(RpcException ex, string what)
    {
        Assert.True(ex.StatusCode == StatusCode.PermissionDenied, $"{what}: expected PermissionDenied, got {ex.StatusCode}: {ex.Status.Detail}");
        Assert.Contains("Cluster:Secret", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("ERROR_REASON_PERMISSION_DENIED", ex.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason);
    }
}
