using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Push.Gateway.Tokens;

namespace Push.Gateway.WebSockets;

/// <summary>Outcome of a token check: the uid (the "sub" claim) or why the token was refused.</summary>
internal readonly record struct TokenCheck(string? Uid, string? Error);

/// <summary>
/// Checks the JWT of a handshake (Gateway:Token) with <see cref="JsonWebTokenHandler"/> against
/// <see cref="HandshakeTokenKeys"/>. Before the library sees it, the token must be a compact JWS (three parts, no
/// JWE), its "alg" one that has keys (never "none"), no "crit", a known "kid" when it has one, and a canonical
/// base64url signature; the library then checks the signature, "exp" (required) and "nbf" with ClockSkew, and
/// "iss"/"aud" when configured; "sub" becomes the uid.
/// </summary>
internal sealed class HandshakeTokenValidator
{
    private const int MaxTokenLength = 8 * 1024;
    private const int MaxKidInReason = 64;

    private readonly HandshakeTokenKeys _keys;
    private readonly HandshakeTokenOptions _options;
    private readonly int _maxUidLength;
    private readonly JsonWebTokenHandler _handler = new() { MaximumTokenSizeInBytes = MaxTokenLength, MapInboundClaims = false };

    public HandshakeTokenValidator(IOptions<GatewayOptions> options, HandshakeTokenKeys keys)
    {
        _options = options.Value.Token;
        _maxUidLength = options.Value.MaxNameLength;
        _keys = keys;
    }

    /// <summary>True when a token key is configured.</summary>
    public bool Enabled => _keys.Enabled;

    /// <summary>Finds the token (Authorization: Bearer, else the query parameter) and checks it.</summary>
    public ValueTask<TokenCheck> CheckAsync(HandshakeRequest request)
    {
        var token = FromHeader(request.Header("Authorization")) ?? FromQuery(request.Query, _options.QueryParameter);
        if (string.IsNullOrEmpty(token))
        {
            return ValueTask.FromResult(new TokenCheck(null, $"missing token: send it as ?{_options.QueryParameter}=... or 'Authorization: Bearer ...'"));
        }
        return CheckAsync(token);
    }

    public async ValueTask<TokenCheck> CheckAsync(string token)
    {
        if (_keys.Current is not { } keys)
        {
            return new(null, "token checks are off");
        }
        if (token.Length > MaxTokenLength)
        {
            return new(null, "token too long");
        }
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        var secondDot = firstDot < 0 ? -1 : token.IndexOf('.', firstDot + 1);
        if (firstDot <= 0 || secondDot <= firstDot + 1 || token.IndexOf('.', secondDot + 1) >= 0)
        {
            return new(null, "malformed token (expected header.payload.signature)");
        }
        JsonWebToken jwt;
        try
        {
            jwt = new JsonWebToken(token);
        }
        catch (Exception ex) when (ex is SecurityTokenMalformedException or ArgumentException)
        {
            return new(null, "malformed token");
        }
        if (string.IsNullOrEmpty(jwt.Alg) || !keys.Accepts(jwt.Alg))
        {
            return new(null, $"algorithm '{Printable(jwt.Alg)}' not accepted (accepted: {string.Join(", ", keys.Algorithms)})");
        }
        if (jwt.TryGetHeaderValue<object>("crit", out _))
        {
            return new(null, "unsupported token header (crit)");
        }
        if (keys.Candidates(jwt.Alg, jwt.Kid).Length == 0)
        {
            return new(null, $"no key with kid '{Printable(jwt.Kid)}'");
        }
        if (!IsCanonicalBase64Url(token.AsSpan(secondDot + 1)))
        {
            return new(null, "malformed token (invalid base64url signature)");
        }
        var result = await _handler.ValidateTokenAsync(jwt, keys.Parameters).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return new(null, result.Exception is SecurityTokenInvalidLifetimeException
                ? TokenKeySet.LifetimeError(NullIfMin(jwt.ValidFrom), NullIfMin(jwt.ValidTo), _keys.Time.GetUtcNow().UtcDateTime, keys.Parameters.ClockSkew) ?? "invalid token lifetime"
                : Reason(result.Exception));
        }
        if (!jwt.TryGetPayloadValue<string>("sub", out var uid) || string.IsNullOrEmpty(uid))
        {
            return new(null, "token has no sub claim");
        }
        if (uid.Length > _maxUidLength)
        {
            return new(null, "sub claim longer than Gateway:MaxNameLength");
        }
        return new(uid, null);
    }

    /// <summary>A short reason for the 401 (the library's messages are long and name internals).</summary>
    private static string Reason(Exception? ex) => ex switch
    {
        SecurityTokenInvalidIssuerException => "wrong token issuer",
        SecurityTokenInvalidAudienceException => "wrong token audience",
        SecurityTokenInvalidAlgorithmException => "algorithm not accepted",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "invalid token signature",
        SecurityTokenMalformedException or ArgumentException => "malformed token",
        _ => "invalid token",
    };

    private static DateTime? NullIfMin(DateTime value) => value == DateTime.MinValue ? null : value;

    /// <summary>
    /// True when the last character carries no stray bits (base64url allows several spellings of the same bytes; the
    /// library's decoder accepts them all, a signature has exactly one).
    /// </summary>
    private static bool IsCanonicalBase64Url(ReadOnlySpan<char> part)
    {
        if (part.IsEmpty || part.Length % 4 == 1)
        {
            return false;
        }
        var unused = (part.Length % 4) switch { 2 => 0b1111, 3 => 0b11, _ => 0 };
        var last = part[^1] switch
        {
            >= 'A' and <= 'Z' and var c => c - 'A',
            >= 'a' and <= 'z' and var c => c - 'a' + 26,
            >= '0' and <= '9' and var c => c - '0' + 52,
            '-' => 62,
            '_' => 63,
            _ => -1,
        };
        return last >= 0 && (last & unused) == 0;
    }

    private static string Printable(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return string.Empty;
        }
        var s = value.Length > MaxKidInReason ? value[..MaxKidInReason] : value;
        return string.Create(s.Length, s, static (span, src) =>
        {
            for (var i = 0; i < src.Length; i++)
            {
                span[i] = char.IsAsciiLetterOrDigit(src[i]) || src[i] is '-' or '_' or '.' or ':' ? src[i] : '?';
            }
        });
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
