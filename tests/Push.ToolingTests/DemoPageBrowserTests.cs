using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>The demo page of `push start` in a real browser: headless Chromium driven by playwright-core.</summary>
[Collection(PushStartCollection.Name)]
[Trait("Category", "Integration")]
public sealed class DemoPageBrowserTests(PushStartFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task DemoPage_InChromium_ShowsClientIdAndPushedMessage()
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var script = ExternalTools.DemoPageScript;
        var page = new UriBuilder(fixture.Suite.Ws) { Scheme = "http", Path = "/" }.Uri.ToString();
        var text = "hello browser " + Guid.NewGuid().ToString("N")[..8];
        var screenshot = Path.Combine(AppContext.BaseDirectory, "screenshots", "demo-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        File.Delete(screenshot);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var browser = ExternalProcess.Start(ExternalTools.Node, [script, page, text, screenshot, "30000"]);

        // Act: the page connects and shows its id; we push to that id through the control API.
        var idLine = await browser.WaitForLineAsync(l => l.StartsWith("CLIENT_ID ", StringComparison.Ordinal), ct);
        var loaded = clock.Elapsed;
        var clientId = idLine["CLIENT_ID ".Length..];
        var delivered = await fixture.Control.SendToClientAsync(clientId, text, ct);
        var received = await browser.WaitForLineAsync(l => l.StartsWith("RECEIVED ", StringComparison.Ordinal), ct);
        var exit = await browser.WaitForExitAsync(ct);

        // Assert
        output.WriteLine($"page {page}: client id after {loaded.TotalMilliseconds:F0} ms, message shown after {clock.ElapsedMilliseconds} ms; screenshot {screenshot}");
        output.WriteLine(browser.StandardOutput);
        Assert.Matches("^[0-9a-f]{40}$", clientId);
        Assert.Equal(1, delivered);
        Assert.Equal("RECEIVED " + text, received);
        Assert.True(exit == 0, browser.Output);
        Assert.Contains("STATUS connected", browser.StandardOutput, StringComparison.Ordinal);
        Assert.True(new FileInfo(screenshot).Length > 1000, $"screenshot {screenshot} missing or empty");
    }
}
