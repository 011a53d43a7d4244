using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Push.UnitTests;

public sealed class HandshakeTokenValidatorTests : IDisposable
{
    private const string SecretA = "first-handshake-secret-0123456789abcdef";
    private const string SecretB = "second-handshake-secret-0123456789abcdef";
    private readonly TokenTestKeys _t = new();

    public void Dispose() => _t.Dispose();

    private static SymmetricSecurityKey Hmac(string secret) => new(Encoding.UTF8.GetBytes(secret));

    [Fact]
    public async Task CheckAsync_RsAndEcKeysOfAJwksFile_EachSelectedByKid()
    {
        // Arrange
        var rsa = TokenTestKeys.Rsa("rsa-1");
        var ec = TokenTestKeys.Ec("ec-1");
        var jwks = _t.Path("jwks.json");
        File.WriteAllText(jwks, TokenTestKeys.Jwks(rsa, ec));
        var (validator, _) = _t.Validator(o => o.JwksFile = jwks);

        // Act
        var viaRsa = await validator.CheckAsync(_t.Token(rsa, SecurityAlgorithms.RsaSha256, "alice"));
        var viaEc = await validator.CheckAsync(_t.Token(ec, SecurityAlgorithms.EcdsaSha256, "bob"));

        // Assert
        Assert.Equal(new("alice", null), viaRsa);
        Assert.Equal(new("bob", null), viaEc);
    }

    [Fact]
    public async Task CheckAsync_KidOfNoKey_RefusedNamingTheKid()
    {
        var known = TokenTestKeys.Rsa("rsa-1");
        var jwks = _t.Path("jwks.json");
        File.WriteAllText(jwks, TokenTestKeys.Jwks(known));
        var (validator, _) = _t.Validator(o => o.JwksFile = jwks);

        var unknownKid = await validator.CheckAsync(_t.Token(TokenTestKeys.Rsa("rsa-2"), SecurityAlgorithms.RsaSha256));
        // A key whose kid claims to be the known one but is another key: the signature decides.
        var impostor = await validator.CheckAsync(_t.Token(TokenTestKeys.Rsa("rsa-1"), SecurityAlgorithms.RsaSha256));

        Assert.Equal("no key with kid 'rsa-2'", unknownKid.Error);
        Assert.Equal("invalid token signature", impostor.Error);
    }

    [Fact]
    public async Task CheckAsync_AlgNone_Refused()
    {
        var (validator, _) = _t.Validator(o => o.HmacSecret = SecretA);

        var none = await validator.CheckAsync(_t.Raw(new Dictionary<string, object> { ["alg"] = "none" }, "mallory", null));
        var noneSigned = await validator.CheckAsync(_t.Raw(new Dictionary<string, object> { ["alg"] = "none" }, "mallory", Encoding.UTF8.GetBytes(SecretA)));

        Assert.Null(none.Uid);
        Assert.StartsWith("algorithm 'none' not accepted", none.Error, StringComparison.Ordinal);
        Assert.StartsWith("algorithm 'none' not accepted", noneSigned.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_HsTokenAgainstRsOnlyKeys_Refused()
    {
        // Arrange: an RSA public key from configuration (PEM text); the attacker knows it (it is public).
        var rsa = TokenTestKeys.Rsa("unused");
        var pem = rsa.Rsa.ExportSubjectPublicKeyInfoPem();
        var (validator, _) = _t.Validator(o => o.PublicKeys.Add(pem));

        // Act: the classic confusion, an HS256 token whose HMAC key is the public key's PEM bytes; and a plain one.
        var confusion = await validator.CheckAsync(_t.Raw(new Dictionary<string, object> { ["alg"] = "HS256" }, "mallory", Encoding.UTF8.GetBytes(pem)));
        var hs = await validator.CheckAsync(_t.Token(Hmac(SecretA), SecurityAlgorithms.HmacSha256));
        var rs = await validator.CheckAsync(_t.Token(new RsaSecurityKey(rsa.Rsa), SecurityAlgorithms.RsaSha256, "alice"));

        // Assert
        Assert.Equal("algorithm 'HS256' not accepted (accepted: RS256)", confusion.Error);
        Assert.Equal("algorithm 'HS256' not accepted (accepted: RS256)", hs.Error);
        Assert.Equal(new("alice", null), rs);
    }

    [Fact]
    public async Task CheckAsync_HsKeysNeverValidateRsTokens()
    {
        var (validator, _) = _t.Validator(o => o.HmacSecret = SecretA);

        var rs = await validator.CheckAsync(_t.Token(TokenTestKeys.Rsa("k"), SecurityAlgorithms.RsaSha256));
        var es = await validator.CheckAsync(_t.Token(TokenTestKeys.Ec("k"), SecurityAlgorithms.EcdsaSha256));

        Assert.Equal("algorithm 'RS256' not accepted (accepted: HS256)", rs.Error);
        Assert.Equal("algorithm 'ES256' not accepted (accepted: HS256)", es.Error);
    }

    [Fact]
    public async Task CheckAsync_TwoHmacSecrets_BothAccepted()
    {
        var (validator, _) = _t.Validator(o =>
        {
            o.HmacSecrets.Add(SecretB); // the new one
            o.HmacSecrets.Add(SecretA); // the old one, still accepted while tokens signed with it are out there
        });

        var old = await validator.CheckAsync(_t.Token(Hmac(SecretA), SecurityAlgorithms.HmacSha256, "old"));
        var current = await validator.CheckAsync(_t.Token(Hmac(SecretB), SecurityAlgorithms.HmacSha256, "new"));
        var other = await validator.CheckAsync(_t.Token(Hmac("a-third-secret-nobody-configured-012345"), SecurityAlgorithms.HmacSha256));

        Assert.Equal(new("old", null), old);
        Assert.Equal(new("new", null), current);
        Assert.Equal("invalid token signature", other.Error);
    }

    [Fact]
    public async Task CheckAsync_HmacSecretWithKidInHeader_StillAccepted()
    {
        // Configured secrets have no kid: an issuer that sets one keeps working.
        var (validator, _) = _t.Validator(o => o.HmacSecret = SecretA);

        var check = await validator.CheckAsync(_t.Token(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(SecretA)) { KeyId = "v7" }, SecurityAlgorithms.HmacSha256));

        Assert.Equal(new("alice", null), check);
    }

    [Fact]
    public async Task CheckAsync_LifetimeOnTheHostClock_WithClockSkew()
    {
        var key = Hmac(SecretA);
        var (validator, _) = _t.Validator(o =>
        {
            o.HmacSecret = SecretA;
            o.ClockSkew = TimeSpan.FromSeconds(30);
        });
        var token = _t.Token(key, SecurityAlgorithms.HmacSha256, expires: _t.Time.GetUtcNow().UtcDateTime.AddMinutes(1));

        var fresh = await validator.CheckAsync(token);
        _t.Time.Advance(TimeSpan.FromSeconds(80)); // past exp, within the skew
        var withinSkew = await validator.CheckAsync(token);
        _t.Time.Advance(TimeSpan.FromSeconds(20));
        var expired = await validator.CheckAsync(token);

        Assert.Null(fresh.Error);
        Assert.Null(withinSkew.Error);
        Assert.Equal("token expired", expired.Error);
    }

    [Fact]
    public async Task CheckAsync_IssuerAndAudience_CheckedWhenSet()
    {
        var key = Hmac(SecretA);
        var (validator, _) = _t.Validator(o =>
        {
            o.HmacSecret = SecretA;
            o.Issuer = "auth";
            o.Audience = "push";
        });

        var good = await validator.CheckAsync(_t.Token(key, SecurityAlgorithms.HmacSha256, claims: new Dictionary<string, object> { ["iss"] = "auth", ["aud"] = new[] { "x", "push" } }));
        var issuer = await validator.CheckAsync(_t.Token(key, SecurityAlgorithms.HmacSha256, claims: new Dictionary<string, object> { ["iss"] = "other", ["aud"] = "push" }));
        var audience = await validator.CheckAsync(_t.Token(key, SecurityAlgorithms.HmacSha256, claims: new Dictionary<string, object> { ["iss"] = "auth", ["aud"] = "other" }));

        Assert.Null(good.Error);
        Assert.Equal("wrong token issuer", issuer.Error);
        Assert.Equal("wrong token audience", audience.Error);
    }

    [Fact]
    public void Keys_WeakOrPrivateKeyMaterial_RefusedAtStart()
    {
        using var small = RSA.Create(1024);
        var weak = small.ExportSubjectPublicKeyInfoPem();
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var wrongCurve = p384.ExportSubjectPublicKeyInfoPem();
        using var rsa = RSA.Create(2048);
        var privateKey = rsa.ExportPkcs8PrivateKeyPem();

        Assert.Contains("1024 bits", Assert.Throws<ArgumentException>(() => _t.Validator(o => o.PublicKeys.Add(weak))).Message, StringComparison.Ordinal);
        Assert.Contains("P-256", Assert.Throws<ArgumentException>(() => _t.Validator(o => o.PublicKeys.Add(wrongCurve))).Message, StringComparison.Ordinal);
        Assert.Contains("never a private key", Assert.Throws<ArgumentException>(() => _t.Validator(o => o.PublicKeys.Add(privateKey))).Message, StringComparison.Ordinal);
        Assert.Contains("Gateway:Token", Assert.Throws<ArgumentException>(() => _t.Validator(o => o.JwksFile = _t.Path("missing.json"))).Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> OddTokens() => new()
    {
        { "alg a number", """{"alg":5}""" + "|" + """{"sub":"x","exp":4102444800}""" },
        { "kid a number", """{"alg":"HS256","kid":5}""" + "|" + """{"sub":"x","exp":4102444800}""" },
        { "header an array", """["HS256"]""" + "|" + """{"sub":"x","exp":4102444800}""" },
        { "payload an array", """{"alg":"HS256"}""" + "|" + """[1,2]""" },
        { "payload not json", """{"alg":"HS256"}""" + "|" + "not json" },
        { "no sub", """{"alg":"HS256"}""" + "|" + """{"exp":4102444800}""" },
        { "exp a string", """{"alg":"HS256"}""" + "|" + """{"sub":"x","exp":"tomorrow"}""" },
        { "deep json", """{"alg":"HS256","x":""" + new string('[', 500) + new string(']', 500) + "}" + "|" + """{"sub":"x","exp":4102444800}""" },
    };

    [Theory]
    [MemberData(nameof(OddTokens))]
    public async Task CheckAsync_OddHeaderOrClaims_RefusedWithoutThrowing(string name, string parts)
    {
        var (validator, _) = _t.Validator(o => o.HmacSecret = SecretA);
        var split = parts.Split('|');
        var input = System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(split[0])) + "." + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(split[1]));
        var token = input + "." + System.Buffers.Text.Base64Url.EncodeToString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(SecretA), Encoding.ASCII.GetBytes(input)));

        var check = await validator.CheckAsync(token);

        Assert.True(check.Uid is null && check.Error is { Length: > 0 }, $"{name}: {check}");
    }
}
