using Push.Testing;

namespace Push.ToolingTests.Infrastructure;

/// <summary>
/// clients/js (@push-grpc/client): installed with `npm ci` when its lock file changed (the stamp .ci/setup also
/// writes) and built (`npm run build`: tsc, then the one-file browser build) once per test run, before any test uses
/// it. Tests only read clients/js/dist afterwards, so they may run in parallel.
/// </summary>
internal static class JsClientSdk
{
    private static readonly Lazy<Task> Built = new(BuildAsync);

    public static string Dir => Path.Combine(RepoPaths.Root, "clients", "js");

    /// <summary>dist/push-client.js: the SDK as one ES module, for pages.</summary>
    public static string Bundle => Path.Combine(Dir, "dist", "push-client.js");

    /// <summary>The Node scenario script (the SDK with `ws`, driven over HTTP).</summary>
    public static string NodeResumeScript => Path.Combine(Dir, "test", "e2e", "node-resume.mjs");

    public static string Npm => ExternalTools.FindOnPath("npm")
        ?? throw new FileNotFoundException("npm not found: run .ci/setup (Node.js with npm is part of the machine image).");

    public static Task EnsureBuiltAsync() => Built.Value;

    private static async Task BuildAsync()
    {
        var lockFile = Path.Combine(Dir, "package-lock.json");
        var stamp = Path.Combine(Dir, "node_modules", ".push-grpc-lock");
        if (!File.Exists(stamp) || !File.ReadAllBytes(stamp).AsSpan().SequenceEqual(File.ReadAllBytes(lockFile)))
        {
            await RunAsync(["ci", "--no-audit", "--no-fund", "--loglevel=error"], TimeSpan.FromMinutes(5));
            File.Copy(lockFile, stamp, overwrite: true);
        }
        await RunAsync(["run", "build"], TimeSpan.FromMinutes(3));
    }

    private static async Task RunAsync(string[] args, TimeSpan timeout)
    {
        var r = await ExternalProcess.RunAsync(Npm, args, timeout, workingDirectory: Dir);
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException(r.Describe($"npm {string.Join(' ', args)} (clients/js)"));
        }
    }
}
