using System.Text;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The JavaScript SDK (clients/js, @push-grpc/client) against a real, secured `push start` over push.v1: in Node with
/// `ws`, and its browser build in headless Chromium. The client is greeted by the demo worker, echoes through it, is
/// bound to a uid and a group, loses its socket abruptly, misses pushes to its id, uid and group, and resumes: the
/// same id, every missed message once and in order, sequence numbers going on; then CloseClient ends it for good.
/// </summary>
[Collection(PushStartCollection.Name)]
[Trait("Category", "Integration")]
public sealed class JsClientSdkTests(PushStartFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task NodeSdk_AbruptDrop_ResumesWithEveryMissedMessageInOrder()
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await JsClientSdk.EnsureBuiltAsync();
        await using var script = ExternalProcess.Start(ExternalTools.Node, [JsClientSdk.NodeResumeScript, fixture.Suite.Ws.ToString(), "90000"], workingDirectory: JsClientSdk.Dir);

        // Act + Assert
        await ResumeScenarioAsync(script, ct);
    }

    [Fact]
    public async Task ChromiumSdk_AbruptDrop_ResumesWithEveryMissedMessageInOrder()
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var demoScript = ExternalTools.DemoPageScript; // checks Chromium and playwright-core
        await JsClientSdk.EnsureBuiltAsync();
        var script = Path.Combine(Path.GetDirectoryName(demoScript)!, "sdk-resume.mjs");
        await using var browser = ExternalProcess.Start(ExternalTools.Node, [script, fixture.Suite.Ws.ToString(), JsClientSdk.Bundle, "90000"]);

        // Act + Assert
        await ResumeScenarioAsync(browser, ct);
    }

    private async Task ResumeScenarioAsync(ExternalProcess client, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var port = (await client.WaitForLineAsync(l => l.StartsWith("DRIVER ", StringComparison.Ordinal), ct))["DRIVER ".Length..];
            var driver = new Uri($"http://127.0.0.1:{port}/");
            async Task PostAsync(string path, string body = "")
            {
                using var response = await http.PostAsync(new Uri(driver, path), new StringContent(body, Encoding.UTF8), ct);
                Assert.True(response.IsSuccessStatusCode, $"driver {path}: {(int)response.StatusCode}");
            }
            Task<string> Next(string prefix) => client.WaitForLineAsync(l => l.StartsWith(prefix, StringComparison.Ordinal), ct);

            // Connected over push.v1 and greeted by the demo worker as message 1.
            var open = (await Next("OPEN ")).Split(' ');
            var id = open[1];
            Assert.Matches("^[0-9a-f]{40}$", id);
            Assert.Equal("resumed=false seq=0", string.Join(' ', open[2..]));
            Assert.Equal("MESSAGE 1 {\"clientId\":\"" + id + "\"}", await Next("MESSAGE "));

            // Text and binary from the client reach the worker (the demo echoes them).
            await PostAsync("send", "echo me");
            Assert.Equal("MESSAGE 2 echo me", await Next("MESSAGE "));
            await PostAsync("send-binary", "0001ff");
            Assert.Equal("MESSAGE 3 bin:0001ff", await Next("MESSAGE "));

            // A backend push arrives with its sequence number.
            var uid = "sdk-user-" + Guid.NewGuid().ToString("N")[..8];
            var group = "sdk-room-" + Guid.NewGuid().ToString("N")[..8];
            await fixture.Control.BindUidAsync(id, uid, ct);
            await fixture.Control.JoinGroupAsync(id, group, ct);
            Assert.Equal(1, await fixture.Control.SendToClientAsync(id, "before", ct));
            Assert.Equal("MESSAGE 4 before", await Next("MESSAGE "));

            // An abrupt drop; pushes to the id, the uid and the group while the client is away.
            await PostAsync("drop");
            Assert.StartsWith("CLOSE 1006 willReconnect=true", await Next("CLOSE "), StringComparison.Ordinal);
            var away = new[]
            {
                await fixture.Control.SendToClientAsync(id, "away-1", ct),
                await fixture.Control.SendToUidAsync(uid, "away-2", ct),
                await fixture.Control.SendToGroupAsync(group, "away-3", ct),
            };
            output.WriteLine($"delivered while away: {string.Join(", ", away)}");

            // The client resumes: same id, the missed messages once and in order, then live traffic.
            await PostAsync("resume");
            Assert.Equal($"OPEN {id} resumed=true seq=4", await Next("OPEN "));
            Assert.Equal("MESSAGE 5 away-1", await Next("MESSAGE "));
            Assert.Equal("MESSAGE 6 away-2", await Next("MESSAGE "));
            Assert.Equal("MESSAGE 7 away-3", await Next("MESSAGE "));
            Assert.Equal(1, await fixture.Control.SendToClientAsync(id, "after", ct));
            Assert.Equal("MESSAGE 8 after", await Next("MESSAGE "));
            Assert.Equal(uid, await fixture.Control.GetUidByClientIdAsync(id, ct));

            // CloseClient (1000 from the server) ends it for good: no reconnect.
            await fixture.Control.CloseClientAsync(id, cancellationToken: ct);
            Assert.StartsWith("CLOSE 1000 willReconnect=false", await Next("CLOSE "), StringComparison.Ordinal);
            Assert.Equal(0, await client.WaitForExitAsync(ct));
            Assert.DoesNotContain("NOT_RESUMED", client.StandardOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("GAP", client.StandardOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("ERROR", client.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            output.WriteLine(client.Output);
        }
    }
}
