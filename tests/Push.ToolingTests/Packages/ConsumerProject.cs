using Push.Testing;
using Push.ToolingTests.Infrastructure;

namespace Push.ToolingTests.Packages;

/// <summary>
/// A user's project made from a snippet: the project `dotnet new console` makes (net10.0, implicit usings, nullable),
/// warnings as errors, the snippet as its whole Program.cs, and the package added with
/// `dotnet add package ID --version V --source FEED`, then built.
/// </summary>
internal sealed class ConsumerProject
{
    private ConsumerProject(string directory, Snippet snippet)
    {
        Directory = directory;
        Snippet = snippet;
    }

    public string Directory { get; }

    public Snippet Snippet { get; }

    /// <summary>The built program.</summary>
    public string Dll => Path.Combine(Directory, "bin", "Release", "net10.0", "Consumer.dll");

    public static async Task<ConsumerProject> BuildAsync(PackageFeed feed, Snippet snippet)
    {
        var dir = Path.Combine(feed.Directory, $"consumer-{snippet.Name}-{Math.Abs(snippet.File.GetHashCode(StringComparison.Ordinal)):x}");
        System.IO.Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "Consumer.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(dir, "Program.cs"), snippet.Code);
        File.Copy(feed.NuGetConfig, Path.Combine(dir, "nuget.config"));
        var context = $"snippet {snippet}";
        try
        {
            await DotnetCli.RunCheckedAsync(["add", "package", snippet.Package, "--version", feed.Version, "--source", feed.Feed], dir, TestTimeouts.Long);
            var build = await DotnetCli.RunCheckedAsync(["build", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false"], dir, TestTimeouts.Long);
            if (!build.StandardOutput.Contains(" 0 Warning(s)", StringComparison.Ordinal))
            {
                throw new Xunit.Sdk.XunitException(build.Describe($"the build of {context} has warnings"));
            }
        }
        catch (Xunit.Sdk.XunitException ex)
        {
            throw new Xunit.Sdk.XunitException($"{context} does not build against the packages:\n{snippet.Code}\n{ex.Message}");
        }
        return new ConsumerProject(dir, snippet);
    }

    /// <summary>Starts the built program (a long-running one, e.g. the worker).</summary>
    public ExternalProcess Start(IDictionary<string, string> environment)
        => ExternalProcess.Start("dotnet", [Dll], workingDirectory: Directory, environment: environment);

    /// <summary>Runs the built program to its end.</summary>
    public Task<CommandResult> RunAsync(IDictionary<string, string> environment)
        => ExternalProcess.RunAsync("dotnet", [Dll], TestTimeouts.Default, workingDirectory: Directory, environment: environment);
}
