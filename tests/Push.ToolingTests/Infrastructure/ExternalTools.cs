using Push.Testing;

namespace Push.ToolingTests.Infrastructure;

/// <summary>
/// Where the tests find the non-.NET tools. Each getter fails with a message that names .ci/setup (which installs
/// them: apt python3-grpcio python3-grpc-tools chromium, npm ci in tools/ and examples/node) when one is missing.
/// </summary>
internal static class ExternalTools
{
    public static string Buf => RepoPaths.Tool("buf");

    /// <summary>Debian's interpreter: the python3 first on PATH may be a separate build that cannot import python3-grpcio.</summary>
    public const string Python = "/usr/bin/python3";

    public const string Chromium = "/usr/bin/chromium";

    public static string Node => FindOnPath("node") ?? throw Missing("node (Node.js)", "it is part of the machine image; install nodejs");

    public static string NodeExampleDir
    {
        get
        {
            var dir = Path.Combine(RepoPaths.Root, "examples", "node");
            return Directory.Exists(Path.Combine(dir, "node_modules", "@grpc", "grpc-js"))
                ? dir
                : throw Missing("examples/node/node_modules (@grpc/grpc-js, @grpc/proto-loader)", "it runs `npm ci` in examples/node");
        }
    }

    public static string PythonExampleDir => Path.Combine(RepoPaths.Root, "examples", "python");

    /// <summary>The demo-page script; needs playwright-core in tools/node_modules and Chromium at /usr/bin/chromium.</summary>
    public static string DemoPageScript
    {
        get
        {
            if (!File.Exists(Chromium))
            {
                throw Missing(Chromium, "it runs `apt-get install chromium`");
            }
            if (!Directory.Exists(Path.Combine(RepoPaths.Root, "tools", "node_modules", "playwright-core")))
            {
                throw Missing("tools/node_modules/playwright-core", "it runs `npm ci` in tools/");
            }
            return Path.Combine(RepoPaths.Root, "tools", "browser", "demo-page.mjs");
        }
    }

    public static string RequirePython()
        => File.Exists(Python) ? Python : throw Missing(Python, "it installs python3-grpcio and python3-grpc-tools with apt");

    private static FileNotFoundException Missing(string what, string how)
        => new($"{what} not found: run .ci/setup ({how}).");

    internal static string? FindOnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);
}
