using Push.Testing;

namespace Push.ToolingTests.Infrastructure;

/// <summary>
/// Builds the Go and Java examples once per test run into temporary folders (never checked in), exactly as a user
/// would: examples/go/build.sh OUT and examples/java/build.sh OUT generate the code for every .proto under protos/ with
/// Debian's protoc plugins and compile it with Debian's gRPC libraries. The Ruby example generates its own code on
/// first use into the folder <see cref="RubyGenDirectory"/> names (PUSH_RB_GEN).
/// </summary>
internal static class GeneratedClients
{
    // Not a bound on speed: a cold Go build compiles grpc-go, and javac compiles about 100k generated lines, on 2 busy cores.
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);

    private static readonly Lazy<Task<BuiltExample>> Go = new(() => BuildAsync("go", ExternalTools.RequireGoToolchain));
    private static readonly Lazy<Task<BuiltExample>> Java = new(() => BuildAsync("java", ExternalTools.RequireJavaToolchain));

    /// <summary>examples/go/gen/push-example's equivalent in a temporary folder.</summary>
    public static Task<BuiltExample> GoAsync() => Go.Value;

    /// <summary>examples/java/gen/push-example's equivalent (a launcher script) in a temporary folder.</summary>
    public static Task<BuiltExample> JavaAsync() => Java.Value;

    /// <summary>A fresh, empty folder for the Ruby example's generated code.</summary>
    public static string RubyGenDirectory() => TempDirectory("ruby");

    private static async Task<BuiltExample> BuildAsync(string lang, Action requireToolchain)
    {
        requireToolchain();
        var dir = TempDirectory(lang);
        var script = Path.Combine(RepoPaths.Root, "examples", lang, "build.sh");
        var r = await ExternalProcess.RunAsync("bash", [script, dir], BuildTimeout);
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException(r.Describe($"examples/{lang}/build.sh (run .ci/setup if a tool is missing)"));
        }
        var program = Path.Combine(dir, "push-example");
        return File.Exists(program)
            ? new BuiltExample(program, r.Elapsed)
            : throw new InvalidOperationException($"examples/{lang}/build.sh succeeded but wrote no {program}:\n{r.Describe("build.sh")}");
    }

    private static string TempDirectory(string lang)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"push-{lang}-client-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return dir;
    }
}

/// <summary>A built example program and how long generating and building it took.</summary>
internal sealed record BuiltExample(string Program, TimeSpan BuildTime);
