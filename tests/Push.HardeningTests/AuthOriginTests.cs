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
}
