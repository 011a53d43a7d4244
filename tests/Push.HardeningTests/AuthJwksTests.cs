using System.Net;
using System.Security.Cryptography;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>`push start` with Gateway:Token:JwksFile: RS256/ES256 handshake tokens selected by kid, keys rotated in the file.</summary>
[Trait("Category", "Integration")]
public sealed class AuthJwksTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Jwks_KeysSelectedByKid_FileReplacedAtRuntime_NewKeyAcceptedWithoutRestart()
    {
        // Arrange: an issuer with an RSA and an EC key; later it rotates the RSA key out and a new EC key in.
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var folder = Directory.CreateTempSubdirectory("push-jwks-").FullName;
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var next = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var jwks = Path.Combine(folder, "jwks.json");
        File.WriteAllText(jwks, AuthTokens.Jwks(("rsa-2026", rsa), ("ec-2026", ec)));
        try
        {
            await using var suite = await AuthHelpers.StartSuiteAsync(["--set", $"Gateway:Token:JwksFile={jwks}"], ct);
            async Task<HttpStatusCode> Handshake(string token)
            {
                var (status, socket) = await AuthHelpers.HandshakeAsync(new Uri(suite.Ws, "/?token=" + token), null, ct);
                socket.Dispose();
                return status;
            }

            // Act + Assert 1: each key validates the tokens carrying its kid; an unknown kid and a swapped kid do not.
            Assert.Equal(HttpStatusCode.SwitchingProtocols, await Handshake(AuthTokens.Signed(rsa, "rsa-2026", "alice")));
            Assert.Equal(HttpStatusCode.SwitchingProtocols, await Handshake(AuthTokens.Signed(ec, "ec-2026", "bob")));
            Assert.Equal(HttpStatusCode.Unauthorized, await Handshake(AuthTokens.Signed(next, "ec-2027", "carol")));
            Assert.Equal(HttpStatusCode.Unauthorized, await Handshake(AuthTokens.Signed(next, "ec-2026", "mallory")));
            Assert.Equal(HttpStatusCode.Unauthorized, await Handshake(AuthTokens.Valid("an-hmac-secret-nobody-configured-0123456789", "mallory")));

            // Act 2: the issuer publishes the new key set (written by a rename, as kubelet and most tools do).
            File.WriteAllText(jwks + ".new", AuthTokens.Jwks(("ec-2026", ec), ("ec-2027", next)));
            File.Move(jwks + ".new", jwks, overwrite: true);
            var newToken = AuthTokens.Signed(next, "ec-2027", "carol");
            var attempts = 1;
            // The gateway looks at the file at most every Gateway:Token:KeyReloadInterval (5 s), on a handshake.
            while (await Handshake(newToken) != HttpStatusCode.SwitchingProtocols)
            {
                attempts++;
                await Task.Delay(250, ct); // pacing of the probes; the condition is the gateway's answer
            }
            await suite.WaitForOutputAsync("Handshake token keys reloaded: 2 keys (ES256)", ct);

            // Assert 2: the removed key is refused now, the kept one still works.
            Assert.Equal(HttpStatusCode.Unauthorized, await Handshake(AuthTokens.Signed(rsa, "rsa-2026", "alice")));
            Assert.Equal(HttpStatusCode.SwitchingProtocols, await Handshake(AuthTokens.Signed(ec, "ec-2026", "bob")));
            output.WriteLine($"new key accepted after {attempts} handshake(s)");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Jwks_UnreadableFileAtStart_ExitCode2NamingTheSetting()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var missing = Path.Combine(Path.GetTempPath(), $"push-no-such-jwks-{Guid.NewGuid():N}.json");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => PushProcess.StartAsync("start", ["--set", $"Gateway:Token:JwksFile={missing}"], cancellationToken: ct));

        Assert.Contains("exited with 2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:Token:", ex.Message, StringComparison.Ordinal);
        output.WriteLine(ex.Message.Split('\n')[1]);
    }
}
