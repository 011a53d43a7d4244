using System.Text.Json;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// A business worker in another language: examples/python/worker.py registers with the registry as a worker,
/// serves push.v1.BusinessService/StreamEvents, greets clients and answers their messages with commands.
/// </summary>
[Trait("Category", "Integration")]
public sealed class PythonWorkerTests(ITestOutputHelper output)
{
    [Fact]
    public async Task PythonWorker_WithRegistryAndGateway_GreetsEchoesAndJoinsGroups()
    {
        // Arrange: a registry and a gateway without any .NET worker, then the Python worker.
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var stubs = await PythonStubs.DirectoryAsync();
        await using var registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        await using var gateway = await PushProcess.StartAsync("gateway", ["--registry", registry.GrpcAddress], cancellationToken: ct);
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var worker = ExternalProcess.Start(
            ExternalTools.RequirePython(),
            ["-u", "worker.py", "--registry", registry.GrpcAddress, "--lease-ttl", "4"],
            workingDirectory: ExternalTools.PythonExampleDir,
            environment: new Dictionary<string, string> { ["PUSH_PY_GEN"] = stubs, ["PYTHONDONTWRITEBYTECODE"] = "1", ["PUSH_SECRET"] = TestSecrets.Member });
        string Diagnostics() => $"{worker.Output}\n--- gateway ---\n{gateway.Output}\n--- registry ---\n{registry.Output}";
        try
        {
            await worker.WaitForLineAsync(l => l.StartsWith("worker: registered ", StringComparison.Ordinal), ct);
            // the gateway is fully ready (not Degraded) once its stream to the worker is open
            await gateway.WaitHealthyAsync(requireHealthy: true, ct);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            throw new InvalidOperationException($"the Python worker did not join: {ex.Message}\n{Diagnostics()}", ex);
        }
        output.WriteLine($"python worker registered and its stream open after {started.ElapsedMilliseconds} ms");
        using var control = gateway.Control();
        using var registryChannel = Grpc.Net.Client.GrpcChannel.ForAddress(registry.GrpcAddress);
        var members = await new Push.V1.RegistryService.RegistryServiceClient(registryChannel)
            .ListMembersAsync(new Push.V1.ListMembersRequest { Role = Push.V1.MemberRole.Worker }, new Grpc.Core.Metadata { { "authorization", "Bearer " + TestSecrets.Control } }, cancellationToken: ct);

        // Act
        await using var ws = await TestWebSocket.ConnectAsync(gateway.Ws, expectGreeting: false, cancellationToken: ct);
        var greeting = await ws.ReceiveTextAsync(ct);
        await ws.SendTextAsync("make me loud", ct);
        var echo = await ws.ReceiveTextAsync(ct);
        var group = "py-" + Guid.NewGuid().ToString("N")[..8];
        await ws.SendTextAsync($$"""{"type":"join","group":"{{group}}"}""", ct);
        var joined = await ws.ReceiveTextAsync(ct);
        var delivered = await control.SendToGroupAsync(group, "to the python group", ct);
        var pushed = await ws.ReceiveTextAsync(ct);
        // The worker acknowledges what it handled (StreamEventsResponse.ack): the gateway holds nothing for it any more.
        var held = -1L;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline && (held = (await control.GetStatusAsync(ct)).Gateways.Single().WorkerQueueBytes) != 0;)
        {
            await Task.Delay(50, ct);
        }

        // Assert
        output.WriteLine($"greeting: {greeting}\necho: {echo}\njoined: {joined}");
        var member = Assert.Single(members.Members);
        Assert.Equal("python", member.Metadata["lang"]);
        Assert.StartsWith("http://127.0.0.1:", member.Address, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(greeting);
        Assert.Equal("from python", doc.RootElement.GetProperty("hello").GetString());
        Assert.Matches("^[0-9a-f]{40}$", doc.RootElement.GetProperty("clientId").GetString());
        Assert.Equal("MAKE ME LOUD", echo);
        Assert.Equal(group, JsonDocument.Parse(joined).RootElement.GetProperty("joined").GetString());
        Assert.Equal(1, delivered);
        Assert.Equal("to the python group", pushed);
        Assert.Equal(0, held);

        // A resumable (push.v1) client that loses its socket comes back as the same client: the Python worker gets a
        // resume event (no new greeting) and goes on answering it.
        var v1 = await ResumableClient.ConnectAsync(gateway.Ws, cancellationToken: ct);
        Assert.Contains("from python", (await v1.ReceiveAsync(ct)).Text, StringComparison.Ordinal);
        v1.Abort();
        await v1.Closed.WaitAsync(ct);
        var token = v1.ResumeToken;
        await v1.DisposeAsync();
        Assert.Equal(1, await control.SendToClientAsync(token.Welcome.ClientId, "while away", ct));
        await using (var back = await ResumableClient.ConnectAsync(gateway.Ws, token, cancellationToken: ct))
        {
            Assert.True(back.Welcome.Resumed, $"not resumed: {back.Welcome.ResumeFailed}\n{Diagnostics()}");
            Assert.Equal("while away", (await back.ReceiveAsync(ct)).Text);
            await back.SendTextAsync("still me", ct);
            Assert.Equal("STILL ME", (await back.ReceiveAsync(ct)).Text);
            await worker.WaitForLineAsync(l => l.Contains($"client {token.Welcome.ClientId} resumed", StringComparison.Ordinal), ct);
        }

        // A SIGTERM deregisters the worker and stops it cleanly.
        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(ct));
        Assert.Contains("deregistering", worker.StandardOutput, StringComparison.Ordinal);
    }
}
