using System.Net;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

[Trait("Category", "Integration")]
public sealed class AuthOriginTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AllowedOrigins_ListedOrigin101_OtherOrMissing403()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var suite = await AuthHelpers.StartSuiteAsync(["--set", "Gateway:AllowedOrigins:0=https://app.example.com", "--set", "Gateway:AllowedOrigins:1=http://localhost:3000"], ct);

        await using var allowed = await TestWebSocket.ConnectAsync(suite.Ws, configure: o => o.SetRequestHeader("Origin", "https://app.example.com"), cancellationToken: ct);
        var second = await AuthHelpers.HandshakeStatusAsync(suite.Ws, o => o.SetRequestHeader("Origin", "http://localhost:3000/"), ct);
        var other = await AuthHelpers.HandshakeStatusAsync(suite.Ws, o => o.SetRequestHeader("Origin", "https://evil.example.com"), ct);
        var lookalike = await AuthHelpers.HandshakeStatusAsync(suite.Ws, o => o.SetRequestHeader("Origin", "https://app.example.com.evil.net"), ct);
        var missing = await AuthHelpers.HandshakeStatusAsync(suite.Ws, null, ct);

        Assert.Equal(40, allowed.ClientId.Length);
        Assert.Equal(HttpStatusCode.SwitchingProtocols, second);
        Assert.Equal(HttpStatusCode.Forbidden, other);
        Assert.Equal(HttpStatusCode.Forbidden, lookalike);
        Assert.Equal(HttpStatusCode.Forbidden, missing);
        // Refused handshakes never became clients (the accepted-then-aborted one leaves once its abort is seen).
        using var control = suite.Control();
        var count = await control.GetAllClientCountAsync(ct);
        for (var i = 0; i < 100 && count != 1; i++)
        {
            await Task.Delay(50, ct);
            count = await control.GetAllClientCountAsync(ct);
        }
        Assert.Equal(1, count);
        output.WriteLine($"allowed: 101; trailing slash: {(int)second}; other: {(int)other}; look-alike: {(int)lookalike}; no Origin: {(int)missing}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ForwardCookies_WithoutAllowedOrigins_SecurityWarningAtStart(bool originsSet)
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        string[] args = originsSet
            ? ["--set", "Gateway:ForwardCookies=true", "--set", "Gateway:AllowedOrigins:0=https://app.example.com"]
            : ["--set", "Gateway:ForwardCookies=true"];

        await using var suite = await AuthHelpers.StartSuiteAsync(args, ct);
        // The policy line is logged right after the warning would be (same logger, same order).
        await suite.WaitForOutputAsync("WebSocket handshakes: origins", ct);

        var warned = suite.Output.Contains("SECURITY: Gateway:ForwardCookies is on and Gateway:AllowedOrigins is empty", StringComparison.Ordinal);
        Assert.Equal(!originsSet, warned);
        output.WriteLine(suite.Output.Split('\n').First(l => l.Contains("WebSocket handshakes: origins", StringComparison.Ordinal)));
    }
}
