using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Push.HardeningTests;

/// <summary>Mints JWTs for the handshake token tests (HS256 unless the header says otherwise).</summary>
internal static class AuthTokens
{
    public static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>A token for <paramref name="sub"/> valid for an hour, with optional extra claims.</summary>
    public static string Valid(string key, string sub, IDictionary<string, object>? extra = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = sub, ["iat"] = Now, ["exp"] = Now + 3600 };
        foreach (var (k, v) in extra ?? new Dictionary<string, object>())
        {
            claims[k] = v;
        }
        return Mint(key, new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "JWT" }, claims);
    }

    public static string Mint(string key, IDictionary<string, object> header, IDictionary<string, object> claims)
    {
        var signingInput = Encode(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Encode(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Encode(signature);
    }

    /// <summary>An RS256 (RSA) or ES256 (EC P-256) token for <paramref name="sub"/> valid for an hour, with <paramref name="kid"/> in its header.</summary>
    public static string Signed(AsymmetricAlgorithm key, string kid, string sub)
    {
        var alg = key is RSA ? "RS256" : "ES256";
        var header = new Dictionary<string, object> { ["alg"] = alg, ["typ"] = "JWT", ["kid"] = kid };
        var claims = new Dictionary<string, object> { ["sub"] = sub, ["iat"] = Now, ["exp"] = Now + 3600 };
        var input = EncodeJson(header) + "." + EncodeJson(claims);
        var data = Encoding.ASCII.GetBytes(input);
        var signature = key switch
        {
            RSA rsa => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            ECDsa ec => ec.SignData(data, HashAlgorithmName.SHA256), // IEEE P1363 (r || s), as JWS wants
            _ => throw new ArgumentException("RSA or ECDsa"),
        };
        return input + "." + Encode(signature);
    }

    /// <summary>A JWKS document with the public halves of <paramref name="keys"/> (kid → key).</summary>
    public static string Jwks(params (string Kid, AsymmetricAlgorithm Key)[] keys)
        => JsonSerializer.Serialize(new
        {
            keys = keys.Select(k => k.Key switch
            {
                RSA rsa when rsa.ExportParameters(false) is var p => new Dictionary<string, string> { ["kty"] = "RSA", ["kid"] = k.Kid, ["alg"] = "RS256", ["n"] = Encode(p.Modulus!), ["e"] = Encode(p.Exponent!) },
                ECDsa ec when ec.ExportParameters(false) is var p => new Dictionary<string, string> { ["kty"] = "EC", ["kid"] = k.Kid, ["crv"] = "P-256", ["x"] = Encode(p.Q.X!), ["y"] = Encode(p.Q.Y!) },
                _ => throw new ArgumentException("RSA or ECDsa"),
            }),
        });

    public static string Encode(byte[] bytes) => Base64Url.EncodeToString(bytes);

    public static string EncodeJson(object value) => Encode(JsonSerializer.SerializeToUtf8Bytes(value));
}
