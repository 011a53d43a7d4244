namespace Push.Testing;

/// <summary>Paths of the repository and of the built `push` executable.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>push.dll built next to Push.Cli (same configuration as the tests).</summary>
    public static string PushDll
    {
        get
        {
#if DEBUG
            const string config = "Debug";
#else
            const string config = "Release";
#endif
            var path = Path.Combine(Root, "services", "Push.Cli", "bin", config, "net10.0", "push.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"push.dll not found at {path}: build Push.Grpc.sln first");
        }
    }

    public static string Tool(string name)
    {
        var candidates = new[]
        {
            Path.Combine(Root, "tools", "node_modules", ".bin", name),
            Path.Combine(Root, ".tools", "bin", name),
        };
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"tool '{name}' not found in tools/node_modules/.bin or .tools/bin: run .ci/setup (it installs the test tools)");
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Push.Grpc.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Push.Grpc.sln not found above " + AppContext.BaseDirectory);
    }
}
