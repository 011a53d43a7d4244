namespace Push.Gateway.WebSockets;

/// <summary>
/// The small page `push start` serves at GET /: connects through the JavaScript SDK (served at GET /push-client.js,
/// a copy of clients/js/dist/push-client.js embedded in this assembly and checked against a fresh build by
/// DemoPageSdkBundleTests), shows its client id, every message with its sequence number, and resumes.
/// The page is clients/js/examples/demo-page.html itself (one copy).
/// </summary>
internal static class DemoPage
{
    private static readonly Lazy<string> Page = new(() => System.Text.Encoding.UTF8.GetString(Resource("Push.Gateway.WebSockets.demo-page.html")));

    /// <summary>The page (clients/js/examples/demo-page.html, embedded at build time).</summary>
    public static string Html => Page.Value;

    private static readonly Lazy<byte[]> Bundle = new(() => Resource("Push.Gateway.WebSockets.push-client.js"));

    private static byte[] Resource(string name)
    {
        using var stream = typeof(DemoPage).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"the embedded {name} is missing from the build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The SDK's one-file browser build (an ES module).</summary>
    public static byte[] SdkBundle => Bundle.Value;
}
