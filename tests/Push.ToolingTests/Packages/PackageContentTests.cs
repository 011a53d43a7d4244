using System.IO.Compression;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using Push.Testing;

namespace Push.ToolingTests.Packages;

/// <summary>
/// What the stable packages (dotnet pack with the repository's own version) hold: ids and the one version, metadata,
/// READMEs, XML docs, symbols, dependencies, and no public type beyond the documented API (house rule: only the
/// control client, the worker SDK and the contracts are public).
/// </summary>
[Collection(PackageFeedCollection.Name)]
[Trait("Category", "Integration")]
public sealed class PackageContentTests
{
    [Fact]
    public async Task StablePackages_CarryTheVersionMetadataDocsAndOnlyThePublicApi()
    {
        // Arrange: pack at the repository's own version (a stable package may not depend on a prerelease unless
        // it says so: pack fails on NU5104 with warnings as errors).
        var output = Path.Combine(Path.GetTempPath(), $"push-stable-packages-{Guid.NewGuid():N}");
        try
        {
            await PackageFeed.PackAsync(output, version: null);
            var version = PackageFeed.VersionPrefix();
            var chart = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "charts", "push", "Chart.yaml"));

            // Assert: one version source, equal to the chart's appVersion.
            Assert.Contains($"appVersion: \"{version}\"", chart, StringComparison.Ordinal);
            foreach (var (_, id) in PackageFeed.Packages)
            {
                using var package = ZipFile.OpenRead(Path.Combine(output, $"{id}.{version}.nupkg"));
                var nuspec = Nuspec(package, id);
                Assert.Equal(id, Meta(nuspec, "id"));
                Assert.Equal(version, Meta(nuspec, "version"));
                Assert.Equal("MIT", Meta(nuspec, "license"));
                Assert.Equal("README.md", Meta(nuspec, "readme"));
                Assert.NotNull(package.GetEntry("README.md"));
                Assert.False(string.IsNullOrWhiteSpace(Meta(nuspec, "description")));
                var repository = nuspec.Descendants().Single(e => e.Name.LocalName == "repository");
                Assert.Equal("git", repository.Attribute("type")?.Value);
                Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? "");
            }

            // The libraries: XML docs next to each assembly, a symbol package with the PDBs.
            var libraries = new Dictionary<string, string[]>
            {
                ["Push.Grpc.Contracts"] = ["Push.Contracts"],
                ["Push.Grpc.Control"] = ["Push.Control"],
                ["Push.Grpc.Worker"] = ["Push.Worker", "Push.Hosting"],
            };
            var publicTypes = new Dictionary<string, List<string>>();
            foreach (var (id, assemblies) in libraries)
            {
                using var package = ZipFile.OpenRead(Path.Combine(output, $"{id}.{version}.nupkg"));
                using var symbols = ZipFile.OpenRead(Path.Combine(output, $"{id}.{version}.snupkg"));
                var lib = package.Entries.Where(e => e.FullName.StartsWith("lib/", StringComparison.Ordinal)).Select(e => e.FullName).Order(StringComparer.Ordinal).ToList();
                foreach (var assembly in assemblies)
                {
                    Assert.Contains($"lib/net10.0/{assembly}.dll", lib);
                    Assert.NotNull(symbols.GetEntry($"lib/net10.0/{assembly}.pdb"));
                    publicTypes[assembly] = PublicTypes(package.GetEntry($"lib/net10.0/{assembly}.dll")!);
                }
                Assert.Contains($"lib/net10.0/{assemblies[0]}.xml", lib);
            }

            // No public type outside the documented API; Push.Hosting (inside the worker package) has none at all.
            Assert.Empty(publicTypes["Push.Hosting"]);
            Assert.Equal(
                ["Push.Control.PushControlClient", "Push.Control.PushControlOptions"],
                publicTypes["Push.Control"]);
            Assert.Equal(
                [
                    "Microsoft.Extensions.DependencyInjection.WorkerServiceCollectionExtensions",
                    "Push.Worker.BusinessEvents", "Push.Worker.ClientContext", "Push.Worker.ClientMessage", "Push.Worker.ClientSession",
                    "Push.Worker.Handshake", "Push.Worker.PushWorkerHost", "Push.Worker.PushWorkerHostOptions", "Push.Worker.ResumeInfo", "Push.Worker.WorkerOptions",
                ],
                publicTypes["Push.Worker"]);
            Assert.All(publicTypes["Push.Contracts"], t => Assert.StartsWith("Push.V1.", t, StringComparison.Ordinal));

            // A backend with only the control client runs on the plain .NET runtime (no ASP.NET Core framework).
            foreach (var id in new[] { "Push.Grpc.Contracts", "Push.Grpc.Control" })
            {
                using var package = ZipFile.OpenRead(Path.Combine(output, $"{id}.{version}.nupkg"));
                Assert.DoesNotContain(Nuspec(package, id).Descendants(), e => e.Name.LocalName == "frameworkReference");
            }

            // The worker package ships Push.Hosting, so it must depend on every package Push.Hosting references.
            using (var worker = ZipFile.OpenRead(Path.Combine(output, $"Push.Grpc.Worker.{version}.nupkg")))
            {
                var dependencies = Nuspec(worker, "Push.Grpc.Worker").Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).ToHashSet();
                var hosting = XDocument.Load(Path.Combine(RepoPaths.Root, "services", "Push.Hosting", "Push.Hosting.csproj"));
                foreach (var reference in hosting.Descendants("PackageReference").Select(e => e.Attribute("Include")!.Value))
                {
                    Assert.True(dependencies.Contains(reference), $"Push.Grpc.Worker ships Push.Hosting.dll but does not depend on {reference}: add it to Push.Worker.csproj");
                }
                Assert.Contains("Push.Grpc.Control", dependencies);
            }

            // The tool: a .NET tool package whose command is `push`, carrying the suite's assemblies.
            using var tool = ZipFile.OpenRead(Path.Combine(output, $"Push.Grpc.Cli.{version}.nupkg"));
            var types = Nuspec(tool, "Push.Grpc.Cli").Descendants().Where(e => e.Name.LocalName == "packageType").Select(e => e.Attribute("name")?.Value);
            Assert.Contains("DotnetTool", types);
            using var settings = tool.GetEntry("tools/net10.0/any/DotnetToolSettings.xml")!.Open();
            var command = XDocument.Load(settings).Descendants("Command").Single();
            Assert.Equal("push", command.Attribute("Name")?.Value);
            Assert.Equal("push.dll", command.Attribute("EntryPoint")?.Value);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    private static XDocument Nuspec(ZipArchive package, string id)
    {
        using var stream = package.GetEntry($"{id}.nuspec")!.Open();
        return XDocument.Load(stream);
    }

    private static string? Meta(XDocument nuspec, string name)
        => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name && e.Parent?.Name.LocalName == "metadata")?.Value;

    /// <summary>Full names of the top-level public types of an assembly in the package (read as metadata, not loaded).</summary>
    private static List<string> PublicTypes(ZipArchiveEntry entry)
    {
        using var memory = new MemoryStream();
        using (var s = entry.Open())
        {
            s.CopyTo(memory);
        }
        memory.Position = 0;
        using var pe = new PEReader(memory);
        var reader = pe.GetMetadataReader();
        var names = new List<string>();
        foreach (var handle in reader.TypeDefinitions)
        {
            var type = reader.GetTypeDefinition(handle);
            if ((type.Attributes & TypeAttributes.VisibilityMask) == TypeAttributes.Public)
            {
                names.Add($"{reader.GetString(type.Namespace)}.{reader.GetString(type.Name)}");
            }
        }
        names.Sort(StringComparer.Ordinal);
        return names;
    }
}
