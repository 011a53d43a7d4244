using System.Diagnostics;
using System.Xml.Linq;
using Push.Testing;

namespace Push.ToolingTests.Packages;

/// <summary>
/// The four packages, packed once per test run from the build the tests run against (dotnet pack --no-build, so the
/// binaries other test assemblies use are never rewritten) into a temporary folder feed, with a version of their own
/// (VersionPrefix-test.RUN). The unique prerelease version keeps these test packages from ever standing in for a real
/// 0.1.0 in the NuGet cache; the cache entries are removed again at the end. Consumers restore offline: their
/// nuget.config holds this feed only, and every dependency is already in the NuGet cache (the solution's restore).
/// </summary>
public sealed class PackageFeed : IAsyncLifetime
{
    /// <summary>The packed projects and their package ids.</summary>
    public static readonly IReadOnlyList<(string Project, string PackageId)> Packages =
    [
        ("services/Push.Contracts", "Push.Grpc.Contracts"),
        ("services/Push.Control", "Push.Grpc.Control"),
        ("services/Push.Worker", "Push.Grpc.Worker"),
        ("services/Push.Cli", "Push.Grpc.Cli"),
    ];

    public static string Configuration =>
#if DEBUG
        "Debug";
#else
        "Release";
#endif

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), $"push-packages-{Guid.NewGuid():N}");

    public string Feed => Path.Combine(Directory, "feed");

    /// <summary>nuget.config with the feed as the only source (nothing is fetched from a remote feed).</summary>
    public string NuGetConfig => Path.Combine(Directory, "nuget.config");

    public string Version { get; } = $"{VersionPrefix()}-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

    /// <summary>How long packing the four took.</summary>
    public TimeSpan PackTime { get; private set; }

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Feed);
        await File.WriteAllTextAsync(NuGetConfig, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="push-test-feed" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
        var clock = Stopwatch.StartNew();
        await PackAsync(Feed, Version);
        PackTime = clock.Elapsed;
    }

    /// <summary>Packs the four projects into <paramref name="output"/> (with <paramref name="version"/>, or the stable VersionPrefix).</summary>
    public static async Task PackAsync(string output, string? version)
    {
        foreach (var (project, _) in Packages)
        {
            List<string> args = ["pack", Path.Combine(RepoPaths.Root, project), "--no-build", "-c", Configuration, "-o", output, "-p:TreatWarningsAsErrors=true"];
            if (version is not null)
            {
                args.Add($"-p:PackageVersion={version}");
            }
            await DotnetCli.RunCheckedAsync(args, RepoPaths.Root, TestTimeouts.Long);
        }
    }

    /// <summary>The one version source: VersionPrefix in Directory.Build.props.</summary>
    public static string VersionPrefix()
    {
        var props = XDocument.Load(Path.Combine(RepoPaths.Root, "Directory.Build.props"));
        return props.Descendants("VersionPrefix").Single().Value.Trim();
    }

    /// <summary>The NuGet cache (global packages folder) that restores of this machine use.</summary>
    public static string GlobalPackagesFolder =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    public Task DisposeAsync()
    {
        foreach (var (_, id) in Packages)
        {
            var cached = Path.Combine(GlobalPackagesFolder, id.ToLowerInvariant(), Version.ToLowerInvariant());
            if (System.IO.Directory.Exists(cached))
            {
                System.IO.Directory.Delete(cached, recursive: true);
                var idFolder = Path.GetDirectoryName(cached)!;
                if (!System.IO.Directory.EnumerateFileSystemEntries(idFolder).Any())
                {
                    System.IO.Directory.Delete(idFolder);
                }
            }
        }
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        return Task.CompletedTask;
    }
}

/// <summary>The package tests share one feed and run one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class PackageFeedCollection : ICollectionFixture<PackageFeed>
{
    public const string Name = "package feed";
}
