using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Push.Gateway.Tokens;

/// <summary>
/// Turns configured key material into <see cref="TokenKey"/>s: HMAC secrets (HS256), PEM public keys or certificates
/// (RS256 for RSA of 2048 bits or more, ES256 for EC P-256) and JWKS documents. Anything else is refused with the
/// reason, never guessed: a key validates exactly one algorithm, so an HS256 token is never checked against an RSA key.
/// </summary>
internal static class TokenKeyLoader
{
    public const int MinHmacBytes = 32;
    public const int MinRsaBits = 2048;

    public static TokenKey Hmac(string secret, string source)
    {
        var bytes = Encoding.UTF8.GetBytes(secret);
        if (bytes.Length < MinHmacBytes)
        {
            throw new ArgumentException($"{source}: an HMAC key must be at least {MinHmacBytes} bytes long");
        }
        return new(new SymmetricSecurityKey(bytes), SecurityAlgorithms.HmacSha256, null, source);
    }

    /// <summary>True when <paramref name="value"/> is PEM text rather than the path of a PEM file.</summary>
    public static bool IsPemText(string value) => value.Contains("-----BEGIN", StringComparison.Ordinal);

    /// <summary>A PEM public key or certificate, given as PEM text or as a file path.</summary>
    public static TokenKey Pem(string textOrPath, string source)
    {
        var pem = IsPemText(textOrPath) ? textOrPath : File.ReadAllText(textOrPath);
        if (!PemEncoding.TryFind(pem, out var fields))
        {
            throw new ArgumentException($"{source}: no PEM block (expected -----BEGIN PUBLIC KEY----- or a CERTIFICATE)");
        }
        var label = pem.AsSpan()[fields.Label].ToString();
        switch (label)
        {
            case "CERTIFICATE":
                using (var certificate = X509Certificate2.CreateFromPem(pem))
                {
                    if (certificate.GetRSAPublicKey() is { } rsa)
                    {
                        return Rsa(rsa, null, source);
                    }
                    if (certificate.GetECDsaPublicKey() is { } ec)
                    {
                        return EcP256(ec, null, source);
                    }
                }
                throw new ArgumentException($"{source}: the certificate's key is neither RSA nor EC");
            case "PUBLIC KEY":
            {
                var der = Convert.FromBase64String(pem[fields.Base64Data]);
                var rsa = RSA.Create();
                try
                {
                    rsa.ImportSubjectPublicKeyInfo(der, out _);
                    return Rsa(rsa, null, source);
                }
                catch (CryptographicException)
                {
                    rsa.Dispose();
                }
                var ec = ECDsa.Create();
                try
                {
                    ec.ImportSubjectPublicKeyInfo(der, out _);
                }
                catch (CryptographicException ex)
                {
                    ec.Dispose();
                    throw new ArgumentException($"{source}: the public key is neither RSA nor EC ({ex.Message})", ex);
                }
                return EcP256(ec, null, source);
            }
            case "RSA PUBLIC KEY":
            {
                var rsa = RSA.Create();
                rsa.ImportFromPem(pem);
                return Rsa(rsa, null, source);
            }
            default:
                throw new ArgumentException($"{source}: '{label}' is not a public key (give the PUBLIC KEY or CERTIFICATE, never a private key)");
        }
    }

    /// <summary>The signing keys of a JWKS document; keys that cannot be used are listed in <paramref name="skipped"/>.</summary>
    public static List<TokenKey> Jwks(string json, string source, List<string> skipped)
    {
        JsonWebKeySet set;
        try
        {
            set = new JsonWebKeySet(json) { SkipUnresolvedJsonWebKeys = false };
        }
        catch (ArgumentException ex)
        {
            throw new FormatException($"{source}: not a JWKS document ({ex.Message.Split('\n')[0]})", ex);
        }
        var keys = new List<TokenKey>();
        for (var i = 0; i < set.Keys.Count; i++)
        {
            var jwk = set.Keys[i];
            var name = $"{source} keys[{i}]" + (string.IsNullOrEmpty(jwk.Kid) ? string.Empty : $" (kid {jwk.Kid})");
            try
            {
                keys.Add(FromJwk(jwk, name));
            }
            catch (Exception ex) when (ex is ArgumentException or CryptographicException or FormatException)
            {
                skipped.Add(ex.Message);
            }
        }
        if (keys.Count == 0)
        {
            throw new FormatException($"{source}: no usable signing key" + (skipped.Count > 0 ? " (" + string.Join("; ", skipped) + ")" : string.Empty));
        }
        return keys;
    }

    private static TokenKey FromJwk(JsonWebKey jwk, string name)
    {
        if (!string.IsNullOrEmpty(jwk.Use) && jwk.Use != JsonWebKeyUseNames.Sig)
        {
            throw new ArgumentException($"{name}: \"use\" is '{jwk.Use}', not 'sig'");
        }
        var kid = string.IsNullOrEmpty(jwk.Kid) ? null : jwk.Kid;
        TokenKey key;
        switch (jwk.Kty)
        {
            case JsonWebAlgorithmsKeyTypes.RSA when !string.IsNullOrEmpty(jwk.N) && !string.IsNullOrEmpty(jwk.E):
                var rsa = RSA.Create();
                rsa.ImportParameters(new RSAParameters { Modulus = Base64UrlEncoder.DecodeBytes(jwk.N), Exponent = Base64UrlEncoder.DecodeBytes(jwk.E) });
                key = Rsa(rsa, kid, name);
                break;
            case JsonWebAlgorithmsKeyTypes.EllipticCurve when jwk.Crv == JsonWebKeyECTypes.P256 && !string.IsNullOrEmpty(jwk.X) && !string.IsNullOrEmpty(jwk.Y):
                var ec = ECDsa.Create(new ECParameters
                {
                    Curve = ECCurve.NamedCurves.nistP256,
                    Q = new ECPoint { X = Base64UrlEncoder.DecodeBytes(jwk.X), Y = Base64UrlEncoder.DecodeBytes(jwk.Y) },
                });
                key = EcP256(ec, kid, name);
                break;
            default:
                throw new ArgumentException($"{name}: unsupported key (kty '{jwk.Kty}'{(string.IsNullOrEmpty(jwk.Crv) ? string.Empty : ", crv " + jwk.Crv)}; RSA and EC P-256 public keys are)");
        }
        if (!string.IsNullOrEmpty(jwk.Alg) && jwk.Alg != key.Algorithm)
        {
            throw new ArgumentException($"{name}: \"alg\" '{jwk.Alg}' is not accepted (this key type validates {key.Algorithm})");
        }
        return key;
    }

    private static TokenKey Rsa(RSA rsa, string? kid, string source)
    {
        if (rsa.KeySize < MinRsaBits)
        {
            var bits = rsa.KeySize;
            rsa.Dispose();
            throw new ArgumentException($"{source}: RSA key of {bits} bits (at least {MinRsaBits})");
        }
        return new(new RsaSecurityKey(rsa) { KeyId = kid }, SecurityAlgorithms.RsaSha256, kid, source);
    }

    private static TokenKey EcP256(ECDsa ec, string? kid, string source)
    {
        if (ec.KeySize != 256)
        {
            var bits = ec.KeySize;
            ec.Dispose();
            throw new ArgumentException($"{source}: EC key of {bits} bits (ES256 needs P-256)");
        }
        return new(new ECDsaSecurityKey(ec) { KeyId = kid }, SecurityAlgorithms.EcdsaSha256, kid, source);
    }
}
