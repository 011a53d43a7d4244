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

    public static string Encode(byte[] bytes) => Base64Url.EncodeToString(bytes);

    public static string EncodeJson(object value) => Encode(JsonSerializer.SerializeToUtf8Bytes(value));
}
