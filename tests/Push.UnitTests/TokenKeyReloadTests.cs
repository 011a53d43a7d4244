using Microsoft.IdentityModel.Tokens;

namespace Push.UnitTests;

public sealed class TokenKeyReloadTests : IDisposable
{
    private readonly TokenTestKeys _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public async Task JwksFileReplaced_NewKeyAcceptedAfterTheInterval_NotLookedAtPerHandshake()
    {
        // Arrange
        var first = TokenTestKeys.Rsa("2026-01");
        var second = TokenTestKeys.Rsa("2026-02");
        var jwks = _t.Path("jwks.json");
        File.WriteAllText(jwks, TokenTestKeys.Jwks(first));
        var (validator, keys) = _t.Validator(o =>
        {
            o.JwksFile = jwks;
            o.KeyReloadInterval = TimeSpan.FromSeconds(5);
        });
        var oldToken = _t.Token(first, SecurityAlgorithms.RsaSha256, "old");
        var newToken = _t.Token(second, SecurityAlgorithms.RsaSha256, "new");

        // Act 1: the issuer rotates (new key only); within the interval nothing looks at the file.
        TokenTestKeys.Replace(jwks, TokenTestKeys.Jwks(second));
        var beforeInterval = await validator.CheckAsync(newToken);
        for (var i = 0; i < 100; i++)
        {
            await validator.CheckAsync(oldToken);
        }
        var checksBefore = keys.FileChecks;

        // Act 2
        _t.Time.Advance(TimeSpan.FromSeconds(5));
        var afterInterval = await validator.CheckAsync(newToken);
        var oldAfter = await validator.CheckAsync(oldToken);

        // Assert
        Assert.Equal("no key with kid '2026-02'", beforeInterval.Error);
        Assert.Equal(0, checksBefore);
        Assert.Equal(new("new", null), afterInterval);
        Assert.Equal("no key with kid '2026-01'", oldAfter.Error);
        Assert.Equal(1, keys.FileChecks);
    }

    [Fact]
    public async Task JwksFileBroken_PreviousKeysStay_UntilTheFileIsFixed()
    {
        var first = TokenTestKeys.Rsa("a");
        var second = TokenTestKeys.Rsa("b");
        var jwks = _t.Path("jwks.json");
        File.WriteAllText(jwks, TokenTestKeys.Jwks(first));
        var (validator, keys) = _t.Validator(o => o.JwksFile = jwks);
        var token = _t.Token(first, SecurityAlgorithms.RsaSha256);

        TokenTestKeys.Replace(jwks, "{\"keys\": [ {\"kty\": \"oct\", \"k\": \"c2VjcmV0\"} ]}"); // no usable key
        _t.Time.Advance(TimeSpan.FromSeconds(5));
        var whileBroken = await validator.CheckAsync(token);
        File.Delete(jwks);
        _t.Time.Advance(TimeSpan.FromSeconds(5));
        var whileMissing = await validator.CheckAsync(token);
        File.WriteAllText(jwks, TokenTestKeys.Jwks(second));
        _t.Time.Advance(TimeSpan.FromSeconds(5));
        var fixedNew = await validator.CheckAsync(_t.Token(second, SecurityAlgorithms.RsaSha256, "b"));

        Assert.Null(whileBroken.Error);
        Assert.Null(whileMissing.Error);
        Assert.Equal(new("b", null), fixedNew);
        Assert.Equal(3, keys.FileChecks);
    }

    [Fact]
    public async Task PublicKeyFile_ReloadedLikeTheJwks()
    {
        var first = TokenTestKeys.Ec("ignored");
        var second = TokenTestKeys.Ec("ignored");
        var file = _t.Path("issuer.pem");
        File.WriteAllText(file, first.ECDsa.ExportSubjectPublicKeyInfoPem());
        var (validator, _) = _t.Validator(o => o.PublicKeys.Add(file));

        var before = await validator.CheckAsync(_t.Token(new ECDsaSecurityKey(second.ECDsa), SecurityAlgorithms.EcdsaSha256));
        TokenTestKeys.Replace(file, second.ECDsa.ExportSubjectPublicKeyInfoPem());
        _t.Time.Advance(TimeSpan.FromSeconds(5));
        var after = await validator.CheckAsync(_t.Token(new ECDsaSecurityKey(second.ECDsa), SecurityAlgorithms.EcdsaSha256));

        Assert.Equal("invalid token signature", before.Error);
        Assert.Null(after.Error);
    }
}
