using System.Text.Json;
using Push.Testing;

namespace Push.ToolingTests.Infrastructure;

/// <summary>What `helm template` made of charts/push: the exit code, stderr and, when it rendered, every document as JSON.</summary>
internal sealed record HelmRender(CommandResult Result, IReadOnlyList<JsonElement> Documents)
{
    public bool Succeeded => Result.ExitCode == 0;

    public IEnumerable<JsonElement> OfKind(string kind)
        => Documents.Where(d => d.TryGetProperty("kind", out var k) && k.GetString() == kind);

    /// <summary>The document of that kind whose name ends with "-suffix" (release "push": push-gateway, push-worker ...), if any.</summary>
    public JsonElement? Find(string kind, string suffix)
    {
        foreach (var d in OfKind(kind))
        {
            if (d.GetProperty("metadata").GetProperty("name").GetString()!.EndsWith("-" + suffix, StringComparison.Ordinal))
            {
                return d;
            }
        }
        return null;
    }

    public JsonElement Get(string kind, string suffix)
        => Find(kind, suffix) ?? throw new InvalidOperationException($"{kind} *-{suffix} was not rendered; rendered: "
            + string.Join(", ", Documents.Select(d => $"{d.GetProperty("kind").GetString()}/{d.GetProperty("metadata").GetProperty("name").GetString()}")));
}

/// <summary>
/// Runs `helm template push charts/push --namespace push ARGS` with the helm that .ci/setup puts in .tools/bin (see
/// charts/install-helm.sh), and parses the output with js-yaml from tools/node_modules (the same parser as charts/validate.sh).
/// </summary>
internal static class HelmTemplate
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<HelmRender> RenderAsync(params string[] args)
    {
        var local = Path.Combine(RepoPaths.Root, ".tools", "helm");
        var environment = new Dictionary<string, string>
        {
            ["HELM_CACHE_HOME"] = Path.Combine(local, "cache"),
            ["HELM_CONFIG_HOME"] = Path.Combine(local, "config"),
            ["HELM_DATA_HOME"] = Path.Combine(local, "data"),
        };
        string[] helmArgs = ["template", "push", Path.Combine(RepoPaths.Root, "charts", "push"), "--namespace", "push", .. args];
        var result = await ExternalProcess.RunAsync(RepoPaths.Tool("helm"), helmArgs, Timeout, environment: environment);
        if (result.ExitCode != 0)
        {
            return new HelmRender(result, []);
        }
        var yamlFile = Path.Combine(Path.GetTempPath(), $"push-helm-{Guid.NewGuid():N}.yaml");
        try
        {
            await File.WriteAllTextAsync(yamlFile, result.StandardOutput);
            var toJson = await ExternalProcess.RunAsync(ExternalTools.Node,
            [
                "-e",
                """
                const yaml = require(require.resolve("js-yaml", { paths: [process.argv[1]] }));
                const docs = yaml.loadAll(require("fs").readFileSync(process.argv[2], "utf8")).filter((d) => d && typeof d === "object");
                process.stdout.write(JSON.stringify(docs));
                """,
                Path.Combine(RepoPaths.Root, "tools", "node_modules"),
                yamlFile,
            ], Timeout);
            if (toJson.ExitCode != 0)
            {
                throw new InvalidOperationException(toJson.Describe("js-yaml (run .ci/setup: npm ci in tools/)"));
            }
            using var parsed = JsonDocument.Parse(toJson.StandardOutput);
            return new HelmRender(result, [.. parsed.RootElement.EnumerateArray().Select(e => e.Clone())]);
        }
        finally
        {
            File.Delete(yamlFile);
        }
    }
}
