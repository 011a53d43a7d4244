using Push.Testing;
using Push.ToolingTests.Infrastructure;

namespace Push.ToolingTests;

/// <summary>
/// The demo page is the SDK's example page, and the SDK bundle the gateway serves at /push-client.js is a copy of a
/// fresh `npm run build` of clients/js: neither can go stale (the gateway embeds the copy so that a .NET build needs no
/// Node). On a mismatch: `cd clients/js &amp;&amp; npm run build &amp;&amp; cp dist/push-client.js ../../services/Push.Gateway/WebSockets/`.
/// </summary>
[Collection(PushStartCollection.Name)]
[Trait("Category", "Integration")]
public sealed class DemoPageSdkBundleTests(PushStartFixture fixture)
{
    [Fact]
    public async Task TheGateway_ServesTheFreshSdkBuild_AndTheSdksExamplePage()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await JsClientSdk.EnsureBuiltAsync();
        using var http = new HttpClient();
        var root = new UriBuilder(fixture.Suite.Ws) { Scheme = "http", Path = "/" }.Uri;

        using var bundle = await http.GetAsync(new Uri(root, "/push-client.js"), ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, bundle.StatusCode);
        Assert.Equal("text/javascript", bundle.Content.Headers.ContentType?.MediaType);
        var served = await bundle.Content.ReadAsByteArrayAsync(ct);
        var built = await File.ReadAllBytesAsync(JsClientSdk.Bundle, ct);
        Assert.True(built.AsSpan().SequenceEqual(served), "services/Push.Gateway/WebSockets/push-client.js differs from a fresh build of clients/js: copy dist/push-client.js there");

        var page = await http.GetStringAsync(root, ct);
        var example = await File.ReadAllTextAsync(Path.Combine(JsClientSdk.Dir, "examples", "demo-page.html"), ct);
        Assert.Equal(example.TrimEnd('\n'), page.TrimEnd('\n'));
    }
}
