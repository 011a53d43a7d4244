using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Push.Gateway.Tokens;

/// <summary>
/// One version of the accepted keys with the validation parameters built for them (built once per version, read by
/// every handshake). Key selection: a token's "alg" picks the keys of that algorithm (an algorithm without keys is
/// refused); its "kid" picks the key with that id, else the keys that have no id (configured secrets and PEM keys);
/// a token without "kid" is tried against every key of its algorithm.
/// </summary>
internal sealed class TokenKeySet
{
    private readonly Dictionary<(string Alg, string Kid), SecurityKey[]> _byKid = [];
    private readonly Dictionary<string, SecurityKey[]> _withoutKid = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SecurityKey[]> _byAlgorithm = new(StringComparer.Ordinal);

    public TokenKeySet(IReadOnlyList<TokenKey> keys, HandshakeTokenOptions options, TimeProvider time)
    {
        Keys = keys;
        foreach (var group in keys.GroupBy(k => k.Algorithm, StringComparer.Ordinal))
        {
            _byAlgorithm[group.Key] = [.. group.Select(k => k.Key)];
            _withoutKid[group.Key] = [.. group.Where(k => k.KeyId is null).Select(k => k.Key)];
            foreach (var withKid in group.Where(k => k.KeyId is not null).GroupBy(k => k.KeyId!, StringComparer.Ordinal))
            {
                _byKid[(group.Key, withKid.Key)] = [.. withKid.Select(k => k.Key)];
            }
        }
        Algorithms = [.. _byAlgorithm.Keys.Order(StringComparer.Ordinal)];
        Parameters = new TokenValidationParameters
        {
            ValidAlgorithms = Algorithms,
            IssuerSigningKeyResolver = (_, token, kid, _) => Candidates(((JsonWebToken)token).Alg, kid),
            TryAllIssuerSigningKeys = false,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = options.ClockSkew,
            // The library's own lifetime check reads the system clock: this one reads the host's TimeProvider.
            LifetimeValidator = (notBefore, expires, _, p) => LifetimeError(notBefore, expires, time.GetUtcNow().UtcDateTime, p.ClockSkew) is null,
            ValidateIssuer = !string.IsNullOrEmpty(options.Issuer),
            ValidIssuer = options.Issuer,
            ValidateAudience = !string.IsNullOrEmpty(options.Audience),
            ValidAudience = options.Audience,
            ValidateIssuerSigningKey = false,
            SaveSigninToken = false,
        };
    }

    /// <summary>Every key of this version.</summary>
    public IReadOnlyList<TokenKey> Keys { get; }

    /// <summary>The algorithms that have at least one key (the allow-list: never "none").</summary>
    public string[] Algorithms { get; }

    /// <summary>Validation parameters for these keys (shared: never modified after construction).</summary>
    public TokenValidationParameters Parameters { get; }

    /// <summary>Why a token's lifetime is not valid at <paramref name="now"/>; null when it is ("exp" is required).</summary>
    public static string? LifetimeError(DateTime? notBefore, DateTime? expires, DateTime now, TimeSpan skew)
    {
        if (expires is not { } exp)
        {
            return "token has no exp claim";
        }
        if (now >= exp + skew)
        {
            return "token expired";
        }
        if (notBefore is { } nbf && now + skew < nbf)
        {
            return "token not valid yet (nbf)";
        }
        return null;
    }

    public bool Accepts(string algorithm) => _byAlgorithm.ContainsKey(algorithm);

    /// <summary>The keys a token with <paramref name="algorithm"/> and <paramref name="kid"/> is checked against; empty: none.</summary>
    public SecurityKey[] Candidates(string algorithm, string? kid)
    {
        if (string.IsNullOrEmpty(kid))
        {
            return _byAlgorithm.GetValueOrDefault(algorithm) ?? [];
        }
        return _byKid.GetValueOrDefault((algorithm, kid)) ?? _withoutKid.GetValueOrDefault(algorithm) ?? [];
    }
}
