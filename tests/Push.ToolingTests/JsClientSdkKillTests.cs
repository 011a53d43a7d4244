using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The JavaScript SDK in Node when its gateway is killed (kill -9): it reconnects to the next URL of its list, that
/// gateway cannot resume the connection, and the SDK says so (notResumed, a new identity, seq from 1) instead of a
/// silent gap. Two separate `push start` processes, each secured with the test secrets.
/// </summary>
[Trait("Category", "Integration")]
public sealed class JsClientSdkKillTests(ITestOutputHelper output)
{
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
