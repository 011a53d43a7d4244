using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Push.Gateway.WebSockets;

/// <summary>Outcome of a token check: the uid (the "sub" claim) or why the token was refused.</summary>
internal readonly record struct TokenCheck(string? Uid, string? Error);

/// <summary>
/// Checks the HS256 JWT of a handshake (Gateway:Token). Written by hand on purpose, with only what a handshake needs:
/// the header must say alg HS256 (no "none", no other algorithm, no "crit"), the signature is compared in constant time
/// before any claim is read, "exp" is required, "nbf", "iss" and "aud" are checked when present or configured, and
/// "sub" is the uid.
/// </summary>
internal sealed class HandshakeTokenValidator
{
    private const int MaxTokenLength = 8 * 1024;
    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 8 };

    private readonly byte[]? _key;
    private readonly HandshakeTokenOptions _options;
    private readonly int _maxUidLength;
    private readonly TimeProvider _time;

    public HandshakeTokenValidator(IOptions<GatewayOptions> options, TimeProvider time)
    {
        _options = options.Value.Token;
        _maxUidLength = options.Value.MaxNameLength;
        _time = time;
        _key = string.IsNullOrEmpty(_options.HmacSecret) ? null : Encoding.UTF8.GetBytes(_options.HmacSecret);
    }

    /// <summary>True when Gateway:Token:HmacSecret is set.</summary>
    public bool Enabled => _key is not null;

    /// <summary>Finds the token (Authorization: Bearer, else the query parameter) and checks it.</summary>
    public TokenCheck Check(HandshakeRequest request)
    {
        var token = FromHeader(request.Header("Authorization")) ?? FromQuery(request.Query, _options.QueryParameter);
        if (string.IsNullOrEmpty(token))
        {
            return new(null, $"missing token: send it as ?{_options.QueryParameter}=... or 'Authorization: Bearer ...'");
        }
        return Check(token);
    }

    public TokenCheck Check(string token)
    {
        if (_key is null)
        {
            return new(null, "token checks are off");
        }
        if (token.Length > MaxTokenLength)
        {
            return new(null, "token too long");
        }
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        var secondDot = firstDot < 0 ? -1 : token.IndexOf('.', firstDot + 1);
        if (firstDot <= 0 || secondDot <= firstDot + 1 || secondDot == token.Length - 1 || token.IndexOf('.', secondDot + 1) >= 0)
        {
            return new(null, "malformed token (expected header.payload.signature)");
        }
        var header = Decode(token.AsSpan(0, firstDot));
        var payload = Decode(token.AsSpan(firstDot + 1, secondDot - firstDot - 1));
        var signature = Decode(token.AsSpan(secondDot + 1));
        if (header is null || payload is null || signature is null)
        {
            return new(null, "malformed token (invalid base64url)");
        }
        if (!HeaderIsHs256(header))
        {
            return new(null, "unsupported token header (alg must be HS256)");
        }
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(token, 0, secondDot), expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, signature))
        {
            return new(null, "invalid token signature");
        }
        return CheckClaims(payload);
    }

    private TokenCheck CheckClaims(byte[] payload)
    {
        try
        {
            using var doc = JsonDocument.Parse(payload, JsonOptions);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new(null, "malformed token claims");
            }
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
            var skew = _options.ClockSkew.TotalSeconds;
            if (!root.TryGetProperty("exp", out var exp) || exp.ValueKind != JsonValueKind.Number)
            {
                return new(null, "token has no exp claim");
            }
            if (now >= exp.GetDouble() + skew)
            {
                return new(null, "token expired");
            }
            if (root.TryGetProperty("nbf", out var nbf))
            {
                if (nbf.ValueKind != JsonValueKind.Number)
                {
                    return new(null, "malformed nbf claim");
                }
                if (now + skew < nbf.GetDouble())
                {
                    return new(null, "token not valid yet (nbf)");
                }
            }
            if (!string.IsNullOrEmpty(_options.Issuer)
                && !(root.TryGetProperty("iss", out var iss) && iss.ValueKind == JsonValueKind.String && iss.ValueEquals(_options.Issuer)))
            {
                return new(null, "wrong token issuer");
            }
            if (!string.IsNullOrEmpty(_options.Audience) && !HasAudience(root, _options.Audience))
            {
                return new(null, "wrong token audience");
            }
            if (!root.TryGetProperty("sub", out var sub) || sub.ValueKind != JsonValueKind.String || sub.GetString() is not { Length: > 0 } uid)
            {
                return new(null, "token has no sub claim");
            }
            if (uid.Length > _maxUidLength)
            {
                return new(null, "sub claim longer than Gateway:MaxNameLength");
            }
            return new(uid, null);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return new(null, "malformed token claims");
        }
    }

    private static bool HasAudience(JsonElement root, string audience)
    {
        if (!root.TryGetProperty("aud", out var aud))
        {
            return false;
        }
        if (aud.ValueKind == JsonValueKind.String)
        {
            return aud.ValueEquals(audience);
        }
        if (aud.ValueKind == JsonValueKind.Array)
        {
            foreach (var a in aud.EnumerateArray())
            {
                if (a.ValueKind == JsonValueKind.String && a.ValueEquals(audience))
                {
                    return true;
                }
            }
        }
        return false;
    }

    private static bool HeaderIsHs256(byte[] header)
    {
        try
        {
            using var doc = JsonDocument.Parse(header, JsonOptions);
            var root = doc.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("alg", out var alg) && alg.ValueKind == JsonValueKind.String && alg.ValueEquals("HS256")
                && !root.TryGetProperty("crit", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static byte[]? Decode(ReadOnlySpan<char> part)
    {
        if (part.IsEmpty || part.Length > MaxTokenLength)
        {
            return null;
        }
        var bytes = new byte[Base64Url.GetMaxDecodedLength(part.Length)];
        try
        {
            // "Try" only covers a too-small destination: invalid input throws.
            return Base64Url.TryDecodeFromChars(part, bytes, out var written) ? bytes.AsSpan(0, written).ToArray() : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string? FromHeader(string? authorization)
    {
        const string scheme = "Bearer ";
        return authorization is not null && authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            ? authorization[scheme.Length..].Trim()
            : null;
    }

    private static string? FromQuery(string query, string name)
    {
        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && part.AsSpan(0, eq).SequenceEqual(name))
            {
                try
                {
                    return Uri.UnescapeDataString(part[(eq + 1)..]);
                }
                catch (UriFormatException)
                {
                    return null;
                }
            }
        }
        return null;
    }
}
