using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Push.Gateway;
using Push.Gateway.Tokens;
using Push.Gateway.WebSockets;

namespace Push.UnitTests;

/// <summary>Keys, JWKS files and tokens for the handshake token tests, on a fake clock.</summary>
internal sealed class TokenTestKeys : IDisposable
{
    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    public TokenTestKeys() => Folder = Directory.CreateTempSubdirectory("push-tokens-").FullName;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public string Folder { get; }

    public string Path(string name) => System.IO.Path.Combine(Folder, name);

    public static RsaSecurityKey Rsa(string kid) => new(RSA.Create(2048)) { KeyId = kid };

    public static ECDsaSecurityKey Ec(string kid) => new(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = kid };

    /// <summary>A JWKS document of the public halves of <paramref name="keys"/>.</summary>
    public static string Jwks(params SecurityKey[] keys)
    {
        var list = keys.Select(k => k switch
        {
            RsaSecurityKey r when r.Rsa.ExportParameters(false) is var p => new Dictionary<string, string>
            {
                ["kty"] = "RSA", ["kid"] = r.KeyId, ["use"] = "sig", ["n"] = Base64Url.EncodeToString(p.Modulus), ["e"] = Base64Url.EncodeToString(p.Exponent),
            },
            ECDsaSecurityKey e when e.ECDsa.ExportParameters(false) is var p => new Dictionary<string, string>
            {
                ["kty"] = "EC", ["kid"] = e.KeyId, ["crv"] = "P-256", ["x"] = Base64Url.EncodeToString(p.Q.X), ["y"] = Base64Url.EncodeToString(p.Q.Y),
            },
            _ => throw new ArgumentException("RSA or EC keys only"),
        });
        return JsonSerializer.Serialize(new { keys = list });
    }

    /// <summary>Writes <paramref name="content"/> to <paramref name="file"/> by renaming a new file over it (as tools and kubelet do).</summary>
    public static void Replace(string file, string content)
    {
        var tmp = file + ".tmp";
        File.WriteAllText(tmp, content);
        // File systems stamp writes with a coarse clock (a few ms): two writes in a row can share a time.
        if (File.Exists(file) && File.GetLastWriteTimeUtc(tmp) <= File.GetLastWriteTimeUtc(file))
        {
            File.SetLastWriteTimeUtc(tmp, File.GetLastWriteTimeUtc(file).AddSeconds(1));
        }
        File.Move(tmp, file, overwrite: true);
    }

    /// <summary>A token for <paramref name="sub"/> valid for an hour on the fake clock.</summary>
    public string Token(SecurityKey key, string algorithm, string sub = "alice", IDictionary<string, object>? claims = null, DateTime? expires = null)
    {
        var now = Time.GetUtcNow().UtcDateTime;
        var all = new Dictionary<string, object>(claims ?? new Dictionary<string, object>()) { ["sub"] = sub };
        return Handler.CreateToken(new SecurityTokenDescriptor
        {
            Claims = all,
            IssuedAt = now,
            Expires = expires ?? now.AddHours(1),
            SigningCredentials = new SigningCredentials(key, algorithm),
        });
    }

    /// <summary>A token with a hand-made header, signed with HMAC-SHA256 over <paramref name="secret"/> (or unsigned).</summary>
    public string Raw(IDictionary<string, object> header, string sub, byte[]? secret)
    {
        var exp = Time.GetUtcNow().ToUnixTimeSeconds() + 3600;
        var input = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["sub"] = sub, ["exp"] = exp }));
        return input + "." + (secret is null ? string.Empty : Base64Url.EncodeToString(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input))));
    }

    public (HandshakeTokenValidator Validator, HandshakeTokenKeys Keys) Validator(Action<HandshakeTokenOptions> configure)
    {
        var options = new GatewayOptions();
        configure(options.Token);
        var wrapped = Options.Create(options);
        var keys = new HandshakeTokenKeys(wrapped, Time, null, NullLogger<HandshakeTokenKeys>.Instance);
        return (new HandshakeTokenValidator(wrapped, keys), keys);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
