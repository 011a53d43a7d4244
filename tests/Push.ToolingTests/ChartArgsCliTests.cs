using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using Push.Testing;
using Push.ToolingTests.Infrastructure;

namespace Push.ToolingTests;

/// <summary>
/// Every `push` container the chart renders (defaults with a Secret, and each charts/push/ci values file) starts with
/// args and env the real CLI accepts: `push ROLE ARGS --check` validates flags, settings and certificate files and exits 0.
/// </summary>
[Trait("Category", "Tooling")]
public sealed partial class ChartArgsCliTests
{
    private static readonly string[] Roles = ["start", "registry", "gateway", "worker"];

    public static TheoryData<string> ValueSets => ["defaults", "all-features-values.yaml", "custom-worker-values.yaml", "external-registry-loadbalancer-values.yaml"];

    [Theory]
    [MemberData(nameof(ValueSets))]
    public async Task EveryPushContainer_ArgsAndEnv_PassPushCheck(string valueSet)
    {
        // Arrange: the rendered pods' push containers; secrets and the pod IP filled in; mounted PEM files written locally.
        string[] helmArgs = valueSet == "defaults"
            ? ["--set", "auth.existingSecret=push-auth", "--set", "worker.demo=true"]
            : ["-f", Path.Combine(RepoPaths.Root, "charts", "push", "ci", valueSet)];
        var render = await HelmTemplate.RenderAsync(helmArgs);
        Assert.True(render.Succeeded, render.Result.Describe("helm template " + valueSet));
        var containers = render.Documents
            .Where(d => d.GetProperty("kind").GetString() is "Deployment" or "StatefulSet")
            .SelectMany(d => d.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers").EnumerateArray())
            .Where(c => !c.TryGetProperty("command", out _) && c.TryGetProperty("args", out var a) && Roles.Contains(a[0].GetString()))
            .ToList();
        Assert.NotEmpty(containers);
        var files = Directory.CreateTempSubdirectory("push-chart-check-");
        try
        {
            foreach (var container in containers)
            {
                var env = Environment(container, files.FullName);
                var args = container.GetProperty("args").EnumerateArray().Select(a => Expand(a.GetString()!, env, files.FullName)).ToList();

                // Act
                var (exit, output) = await CliRun.RunAsync([.. args, "--check"], env, TestTimeouts.Token(TestTimeouts.Long));

                // Assert
                var name = container.GetProperty("name").GetString();
                Assert.True(exit == 0, $"{valueSet}, container {name}: push {string.Join(' ', args)} --check exited {exit}:\n{output}");
                Assert.Contains($"push {args[0]}: configuration OK", output, StringComparison.Ordinal);
                if (valueSet != "defaults")
                {
                    Assert.Contains("--log-format", args); // the ci values run every push container with JSON logs
                }
            }
        }
        finally
        {
            files.Delete(recursive: true);
        }
    }

    /// <summary>The container's env: literal values, the test secrets for secret references, 127.0.0.1 for the pod IP.</summary>
    private static Dictionary<string, string> Environment(JsonElement container, string files)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!container.TryGetProperty("env", out var list))
        {
            return env;
        }
        foreach (var e in list.EnumerateArray())
        {
            var name = e.GetProperty("name").GetString()!;
            if (e.TryGetProperty("value", out var value))
            {
                env[name] = Expand(value.GetString() ?? string.Empty, env, files);
            }
            else if (e.GetProperty("valueFrom").TryGetProperty("secretKeyRef", out var secret))
            {
                env[name] = secret.GetProperty("key").GetString()!.Contains("control", StringComparison.Ordinal) ? TestSecrets.Control : TestSecrets.Member;
            }
            else
            {
                env[name] = name == "POD_IP" ? "127.0.0.1" : "push-test";
            }
        }
        return env;
    }

    /// <summary>$(VAR) as Kubernetes expands it; a mounted PEM path (/etc/...) becomes a local file holding a real one.</summary>
    private static string Expand(string value, Dictionary<string, string> env, string files)
    {
        value = EnvReference().Replace(value, m => env.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
        if (!value.StartsWith("/etc/", StringComparison.Ordinal) || Path.GetExtension(value) is not (".crt" or ".key" or ".pem"))
        {
            return value;
        }
        var local = Path.Combine(files, value.TrimStart('/').Replace('/', '_'));
        if (!File.Exists(local))
        {
            WritePem(Path.Combine(files, "node"));
            File.Copy(Path.Combine(files, "node" + (value.EndsWith(".key", StringComparison.Ordinal) ? ".key" : ".crt")), local);
        }
        return local;
    }

    /// <summary>One self-signed certificate (its own CA) and key for every mounted certificate file.</summary>
    private static void WritePem(string stem)
    {
        if (File.Exists(stem + ".crt"))
        {
            return;
        }
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=push-chart-check", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(stem + ".crt", cert.ExportCertificatePem());
        File.WriteAllText(stem + ".key", key.ExportPkcs8PrivateKeyPem());
    }

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex EnvReference();
}
