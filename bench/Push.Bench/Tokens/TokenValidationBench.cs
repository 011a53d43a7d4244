using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Push.Gateway;
using Push.Gateway.Tokens;
using Push.Gateway.WebSockets;

namespace Push.Bench.Tokens;

/// <summary>
/// `Push.Bench tokens [--iterations N]`: the gateway's per-handshake token check (HandshakeTokenValidator, the code
/// the handshake runs) in a loop, one thread, per key setup: time per check (fastest and median of 10 batches) and bytes allocated per check.
/// </summary>
internal static class TokenValidationBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var i = Array.IndexOf(args, "--iterations");
        var iterations = i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : 20_000;
        var folder = Directory.CreateTempSubdirectory("push-token-bench-").FullName;
        try
        {
            const string secretA = "bench-secret-number-one-0123456789abcdef";
            const string secretB = "bench-secret-number-two-0123456789abcdef";
            var rsa = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "rsa" };
            var ec = new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "ec" };
            var jwks = Path.Combine(folder, "jwks.json");
            File.WriteAllText(jwks, JwksOf(rsa, ec));
            var cases = new (string Name, Action<HandshakeTokenOptions> Configure, SecurityKey Key, string Alg)[]
            {
                ("HS256, 1 secret", o => o.HmacSecret = secretA, Hmac(secretA), SecurityAlgorithms.HmacSha256),
                ("HS256, 2 secrets, token of the 2nd", o => o.HmacSecrets.AddRange([secretA, secretB]), Hmac(secretB), SecurityAlgorithms.HmacSha256),
                ("RS256 2048, JWKS by kid", o => o.JwksFile = jwks, rsa, SecurityAlgorithms.RsaSha256),
                ("ES256 P-256, JWKS by kid", o => o.JwksFile = jwks, ec, SecurityAlgorithms.EcdsaSha256),
            };
            Console.WriteLine($"| key setup | µs per check, fastest of 10 batches | µs per check, median batch | bytes allocated per check |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var (name, configure, key, alg) in cases)
            {
                var options = new GatewayOptions();
                configure(options.Token);
                var wrapped = Options.Create(options);
                var validator = new HandshakeTokenValidator(wrapped, new HandshakeTokenKeys(wrapped, TimeProvider.System, null, NullLogger<HandshakeTokenKeys>.Instance));
                var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
                {
                    Claims = new Dictionary<string, object> { ["sub"] = "user-12345" },
                    Expires = DateTime.UtcNow.AddHours(1),
                    SigningCredentials = new SigningCredentials(key, alg),
                });
                for (var w = 0; w < Math.Min(2000, iterations); w++)
                {
                    Check(await validator.CheckAsync(token).ConfigureAwait(false));
                }
                // Batches: on a shared machine the fastest batch is the best estimate of the check's own cost, the
                // median what a loaded machine gives.
                const int batches = 10;
                var perBatch = Math.Max(1, iterations / batches);
                var times = new double[batches];
                var allocated = GC.GetAllocatedBytesForCurrentThread();
                for (var b = 0; b < batches; b++)
                {
                    var started = Stopwatch.GetTimestamp();
                    for (var n = 0; n < perBatch; n++)
                    {
                        Check(await validator.CheckAsync(token).ConfigureAwait(false));
                    }
                    times[b] = Stopwatch.GetElapsedTime(started).TotalMicroseconds / perBatch;
                }
                allocated = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (batches * perBatch);
                Array.Sort(times);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {times[0]:F1} | {times[batches / 2]:F1} | {allocated:N0} |"));
            }
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void Check(TokenCheck check)
    {
        if (check.Uid is null)
        {
            throw new InvalidOperationException("the benchmark token was refused: " + check.Error);
        }
    }

    private static SymmetricSecurityKey Hmac(string secret) => new(Encoding.UTF8.GetBytes(secret));

    private static string JwksOf(RsaSecurityKey rsa, ECDsaSecurityKey ec)
    {
        var r = rsa.Rsa.ExportParameters(false);
        var e = ec.ECDsa.ExportParameters(false);
        return System.Text.Json.JsonSerializer.Serialize(new
        {
            keys = new object[]
            {
                new { kty = "RSA", kid = rsa.KeyId, n = Base64UrlEncoder.Encode(r.Modulus), e = Base64UrlEncoder.Encode(r.Exponent) },
                new { kty = "EC", kid = ec.KeyId, crv = "P-256", x = Base64UrlEncoder.Encode(e.Q.X), y = Base64UrlEncoder.Encode(e.Q.Y) },
            },
        });
    }
}
