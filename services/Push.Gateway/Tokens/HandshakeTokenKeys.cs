using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Gateway.Diagnostics;
using Push.Hosting.Files;

namespace Push.Gateway.Tokens;

/// <summary>
/// The keys handshake tokens are checked against (Gateway:Token): HMAC secrets, PEM public keys and a JWKS file.
/// Files (JwksFile, PublicKeys given as paths) are looked at at most every Gateway:Token:KeyReloadInterval, on a
/// handshake; a change builds a new <see cref="TokenKeySet"/>, a change that cannot be loaded keeps the old one
/// (logged, counted in push.gateway.token_keys.reloads{push.result=failed}).
/// </summary>
internal sealed partial class HandshakeTokenKeys
{
    private readonly TokenKeySet? _static;
    private readonly FileReloader<TokenKeySet>? _files;

    /// <summary>Loads the keys now; a key that cannot be loaded at start is an <see cref="ArgumentException"/> (exit code 2).</summary>
    public HandshakeTokenKeys(IOptions<GatewayOptions> options, TimeProvider time, GatewayMetrics? metrics, ILogger<HandshakeTokenKeys> logger)
    {
        Time = time;
        var o = options.Value.Token;
        if (!o.Enabled)
        {
            return;
        }
        var files = o.PublicKeys.Where(k => !TokenKeyLoader.IsPemText(k)).ToList();
        if (!string.IsNullOrEmpty(o.JwksFile))
        {
            files.Add(o.JwksFile);
        }
        TokenKeySet Load() => Build(o, time, logger);
        try
        {
            if (files.Count == 0)
            {
                _static = Load();
                return;
            }
            _files = new FileReloader<TokenKeySet>(files, Load, time, o.KeyReloadInterval,
                reloaded: set =>
                {
                    KeysReloaded(logger, set.Keys.Count, string.Join(", ", set.Algorithms));
                    metrics?.TokenKeysReload("reloaded");
                },
                failed: ex =>
                {
                    ReloadFailed(logger, ex.Message);
                    metrics?.TokenKeysReload("failed");
                });
        }
        catch (Exception ex) when (FileReloader<TokenKeySet>.IsLoadFailure(ex) && ex is not ArgumentException)
        {
            // The loader's own messages start with the setting; the file system's do not.
            throw new ArgumentException(ex is FormatException ? ex.Message : $"Gateway:Token: {ex.Message}", ex);
        }
    }

    /// <summary>The clock of the lifetime checks.</summary>
    public TimeProvider Time { get; }

    /// <summary>True when a key source is configured (every handshake then needs a token).</summary>
    public bool Enabled => _static is not null || _files is not null;

    /// <summary>The keys of now (null when the check is off).</summary>
    public TokenKeySet? Current => _files?.Current ?? _static;

    /// <summary>Looks at the key files now (tests); false without files.</summary>
    internal bool CheckNow() => _files?.CheckNow() ?? false;

    /// <summary>Times the key files were looked at (tests: not per handshake).</summary>
    internal long FileChecks => _files?.Checks ?? 0;

    private static TokenKeySet Build(HandshakeTokenOptions o, TimeProvider time, ILogger logger)
    {
        var keys = new List<TokenKey>();
        if (!string.IsNullOrEmpty(o.HmacSecret))
        {
            keys.Add(TokenKeyLoader.Hmac(o.HmacSecret, "Gateway:Token:HmacSecret"));
        }
        for (var i = 0; i < o.HmacSecrets.Count; i++)
        {
            keys.Add(TokenKeyLoader.Hmac(o.HmacSecrets[i], $"Gateway:Token:HmacSecrets:{i}"));
        }
        for (var i = 0; i < o.PublicKeys.Count; i++)
        {
            var value = o.PublicKeys[i];
            keys.Add(TokenKeyLoader.Pem(value, TokenKeyLoader.IsPemText(value) ? $"Gateway:Token:PublicKeys:{i}" : $"Gateway:Token:PublicKeys:{i} ({value})"));
        }
        if (!string.IsNullOrEmpty(o.JwksFile))
        {
            var skipped = new List<string>();
            keys.AddRange(TokenKeyLoader.Jwks(File.ReadAllText(o.JwksFile), $"Gateway:Token:JwksFile ({o.JwksFile})", skipped));
            foreach (var reason in skipped)
            {
                KeySkipped(logger, reason);
            }
        }
        return new TokenKeySet(keys, o, time);
    }

    [LoggerMessage(3401, LogLevel.Information, "Handshake token keys reloaded: {Count} keys ({Algorithms}).", EventName = "TokenKeysReloaded")]
    private static partial void KeysReloaded(ILogger logger, int count, string algorithms);

    [LoggerMessage(3402, LogLevel.Warning, "Handshake token keys not reloaded: {Error} The previous keys stay in use.", EventName = "TokenKeysReloadFailed")]
    private static partial void ReloadFailed(ILogger logger, string error);

    [LoggerMessage(3403, LogLevel.Warning, "Handshake token key skipped: {Reason}.", EventName = "TokenKeySkipped")]
    private static partial void KeySkipped(ILogger logger, string reason);
}
