using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The JavaScript SDK in Node (clients/js/test/e2e/node-resume.mjs) with a URL list, against real processes secured
/// with the test secrets: when its gateway drains it resumes on the other gateway of the cluster (takeover), and when
/// its gateway is killed it says it did not resume (a new identity) instead of leaving a silent gap.
/// </summary>
[Trait("Category", "Integration")]
public sealed class JsClientSdkClusterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task NodeSdk_GatewayDrains_ResumesOnTheOtherGatewayWithEveryMissedMessage()
    {
        // Arrange: a registry, two gateways, a worker (the demo's chat) attached to both.
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await JsClientSdk.EnsureBuiltAsync();
        await using var registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        await using var first = await PushProcess.StartAsync("gateway", ["--registry", registry.GrpcAddress], cancellationToken: ct);
        await using var second = await PushProcess.StartAsync("gateway", ["--registry", registry.GrpcAddress], cancellationToken: ct);
        await using var worker = await PushProcess.StartAsync("worker", ["--registry", registry.GrpcAddress], cancellationToken: ct);
        await first.WaitHealthyAsync(requireHealthy: true, ct);
        await second.WaitHealthyAsync(requireHealthy: true, ct);
        using var control = second.Control();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await using var client = ExternalProcess.Start(ExternalTools.Node, [JsClientSdk.NodeResumeScript, $"{first.Ws},{second.Ws}", "90000"], workingDirectory: JsClientSdk.Dir);
        Task<string> Next(string prefix) => client.WaitForLineAsync(l => l.StartsWith(prefix, StringComparison.Ordinal), ct);
        try
        {
            var driver = new Uri($"http://127.0.0.1:{(await Next("DRIVER ")).Split(' ')[1]}/");
            var id = (await Next("OPEN ")).Split(' ')[1];
            Assert.Equal("MESSAGE 1 {\"clientId\":\"" + id + "\"}", await Next("MESSAGE "));
            var uid = "sdk-user-" + Guid.NewGuid().ToString("N")[..8];
            var group = "sdk-room-" + Guid.NewGuid().ToString("N")[..8];
            await control.BindUidAsync(id, uid, ct);
            await control.JoinGroupAsync(id, group, ct);
            Assert.Equal(1, await control.SendToClientAsync(id, "before", ct));
            Assert.Equal("MESSAGE 2 before", await Next("MESSAGE "));

            // Act: the client's gateway drains (SIGTERM: 1001 to its clients); pushes through the other gateway
            // while the client is away, then the client reconnects, to the next URL: the other gateway.
            using (var hold = await http.PostAsync(new Uri(driver, "hold"), null, ct))
            {
                Assert.True(hold.IsSuccessStatusCode);
            }
            first.Terminate();
            Assert.StartsWith("CLOSE 1001 willReconnect=true", await Next("CLOSE "), StringComparison.Ordinal);
            await control.SendToClientAsync(id, "away-1", ct);
            await control.SendToUidAsync(uid, "away-2", ct);
            await control.SendToGroupAsync(group, "away-3", ct);
            using (var resume = await http.PostAsync(new Uri(driver, "resume"), null, ct))
            {
                Assert.True(resume.IsSuccessStatusCode);
            }

            // Assert: the same connection on the other gateway, the missed messages once and in order.
            Assert.Equal($"OPEN {id} resumed=true seq=2", await Next("OPEN "));
            Assert.Equal("MESSAGE 3 away-1", await Next("MESSAGE "));
            Assert.Equal("MESSAGE 4 away-2", await Next("MESSAGE "));
            Assert.Equal("MESSAGE 5 away-3", await Next("MESSAGE "));
            Assert.Equal(1, await control.SendToUidAsync(uid, "after", ct));
            Assert.Equal("MESSAGE 6 after", await Next("MESSAGE "));
            Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            await control.CloseClientAsync(id, cancellationToken: ct);
            Assert.StartsWith("CLOSE 1000 willReconnect=false", await Next("CLOSE "), StringComparison.Ordinal);
            Assert.Equal(0, await client.WaitForExitAsync(ct));
            Assert.DoesNotContain("NOT_RESUMED", client.StandardOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("GAP", client.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            output.WriteLine(client.Output);
            output.WriteLine("--- the drained gateway ---\n" + first.Output);
            output.WriteLine("--- the other gateway ---\n" + second.Output);
        }
    }

    [Fact]
    public async Task NodeSdk_GatewayKilled_ReportsNotResumedOnTheNextUrl()
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await JsClientSdk.EnsureBuiltAsync();
        await using var first = await PushProcess.StartAsync("start", cancellationToken: ct);
        await using var second = await PushProcess.StartAsync("start", cancellationToken: ct);
        using var firstControl = first.Control();
        using var secondControl = second.Control();
        await using var client = ExternalProcess.Start(ExternalTools.Node, [JsClientSdk.NodeResumeScript, $"{first.Ws},{second.Ws}", "90000"], workingDirectory: JsClientSdk.Dir);
        Task<string> Next(string prefix) => client.WaitForLineAsync(l => l.StartsWith(prefix, StringComparison.Ordinal), ct);
        try
        {
            var id = (await Next("OPEN ")).Split(' ')[1];
            Assert.Equal("MESSAGE 1 {\"clientId\":\"" + id + "\"}", await Next("MESSAGE "));
            Assert.Equal(1, await firstControl.SendToClientAsync(id, "before", ct));
            Assert.Equal("MESSAGE 2 before", await Next("MESSAGE "));

            // Act
            first.Kill();

            // Assert: the drop, then the second gateway answers with a new identity and the SDK reports it.
            Assert.StartsWith("CLOSE 1006 willReconnect=true", await Next("CLOSE "), StringComparison.Ordinal);
            var reason = (await Next("NOT_RESUMED ")).Split(' ')[1];
            Assert.Contains(reason, new[] { "expired", "owner_unreachable" });
            var open = (await Next("OPEN ")).Split(' ');
            var newId = open[1];
            Assert.NotEqual(id, newId);
            Assert.Equal($"resumed=false seq=0 failed={reason}", string.Join(' ', open[2..]));
            Assert.Equal("MESSAGE 1 {\"clientId\":\"" + newId + "\"}", await Next("MESSAGE "));
            await secondControl.CloseClientAsync(newId, cancellationToken: ct);
            Assert.StartsWith("CLOSE 1000 willReconnect=false", await Next("CLOSE "), StringComparison.Ordinal);
            Assert.Equal(0, await client.WaitForExitAsync(ct));
            Assert.DoesNotContain("GAP", client.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            output.WriteLine(client.Output);
        }
    }
}
