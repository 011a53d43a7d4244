using System.Diagnostics;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.ToolingTests.Packages;

/// <summary>
/// The README's C# snippets (and the package READMEs'), taken from the Markdown at test time, built as user projects
/// against the packed packages and run against a real registry and gateway with secrets: the README cannot drift from
/// what compiles and works.
/// </summary>
[Collection(PackageFeedCollection.Name)]
[Trait("Category", "Integration")]
public sealed class SnippetTests(PackageFeed feed, ITestOutputHelper output)
{
    [Fact]
    public async Task ReadmeSnippets_BuiltAgainstThePackages_RunAsWorkerAndBackendOfARealCluster()
    {
        // Arrange: every snippet, one consumer project per name (the same name in two READMEs must be the same code).
        var ct = TestTimeouts.Token(TimeSpan.FromMinutes(8));
        var snippets = ReadmeSnippets.All();
        foreach (var group in snippets.GroupBy(s => s.Name))
        {
            var first = group.First();
            foreach (var other in group.Skip(1))
            {
                Assert.True(other.Code == first.Code && other.Package == first.Package, $"snippet '{group.Key}' differs between {first} and {other}: keep the copies identical");
            }
        }
        Assert.Contains(snippets, s => s is { File: "README.md", Name: "worker" });
        Assert.Contains(snippets, s => s is { File: "README.md", Name: "control" });
        var clock = Stopwatch.StartNew();
        var projects = new Dictionary<string, ConsumerProject>();
        foreach (var snippet in snippets.DistinctBy(s => s.Name))
        {
            projects[snippet.Name] = await ConsumerProject.BuildAsync(feed, snippet);
        }
        output.WriteLine($"packed in {feed.PackTime.TotalSeconds:F1} s; {projects.Count} snippets ({string.Join(", ", projects.Keys)}) added and built warning-free in {clock.Elapsed.TotalSeconds:F1} s");
        await using var registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        await using var gateway = await PushProcess.StartAsync("gateway", ["--registry", registry.GrpcAddress], cancellationToken: ct);

        // Act 1: the worker snippet as the cluster's only worker.
        await using var worker = projects["worker"].Start(new Dictionary<string, string>
        {
            ["PUSH_REGISTRY"] = registry.GrpcAddress,
            ["PUSH_SECRET"] = TestSecrets.Member,
        });
        try
        {
            await gateway.WaitHealthyAsync(requireHealthy: true, ct); // healthy once its stream to a worker is open
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"the worker snippet did not attach to the gateway: {ex.Message}\n{worker.Output}\n--- gateway ---\n{gateway.Output}", ex);
        }
        await using var alice = await TestWebSocket.ConnectAsync(gateway.Ws, cancellationToken: ct); // greeted {"clientId":...}
        await using var bob = await TestWebSocket.ConnectAsync(gateway.Ws, cancellationToken: ct);
        await alice.SendTextAsync("hi room", ct);
        var relayedToAlice = await alice.ReceiveTextAsync(ct);
        var relayedToBob = await bob.ReceiveTextAsync(ct);
        using var control = gateway.Control();
        // The session is written back when OnMessageAsync returns, after its relay went out: wait until it shows.
        var session = await control.GetSessionAsync(alice.ClientId, ct);
        while (!session.ContainsKey("last"))
        {
            await Task.Delay(50, ct);
            session = await control.GetSessionAsync(alice.ClientId, ct);
        }

        // Act 2: the control snippet, then the contracts snippet, as backends.
        var backendEnv = new Dictionary<string, string> { ["PUSH_GRPC"] = gateway.GrpcAddress, ["PUSH_CONTROL_SECRET"] = TestSecrets.Control };
        var controlRun = await projects["control"].RunAsync(backendEnv);
        var helloToAlice = await alice.ReceiveTextAsync(ct);
        var helloToBob = await bob.ReceiveTextAsync(ct);
        var pairToAlice = await alice.ReceiveTextAsync(ct);
        var pairToBob = await bob.ReceiveTextAsync(ct);
        var contractsRun = projects.TryGetValue("contracts", out var contracts) ? await contracts.RunAsync(backendEnv) : null;

        // Assert
        Assert.False(worker.HasExited, worker.Output);
        Assert.Matches("^[0-9a-f]{40}$", alice.ClientId);
        Assert.Equal("hi room", relayedToAlice);
        Assert.Equal("hi room", relayedToBob);
        Assert.Equal("hi room", session["last"]);
        Assert.True(controlRun.ExitCode == 0, controlRun.Describe("the control snippet"));
        Assert.Equal("room1: 2 clients, hello delivered to 2", controlRun.StandardOutput.Trim());
        Assert.Equal(("hello", "hello"), (helloToAlice, helloToBob));
        Assert.Equal(("just you two", "just you two"), (pairToAlice, pairToBob));
        if (contractsRun is not null)
        {
            Assert.True(contractsRun.ExitCode == 0, contractsRun.Describe("the contracts snippet"));
            Assert.Equal("2 clients on 1 of 1 gateways", contractsRun.StandardOutput.Trim());
        }

        // A SIGTERM stops the worker snippet cleanly.
        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(ct));
        output.WriteLine($"whole test (pack excluded) {clock.Elapsed.TotalSeconds:F1} s");
    }
}

/// <summary>Every C# block of the Markdown is a checked snippet or a marked fragment (no pack needed).</summary>
public sealed class SnippetMarkerTests
{
    [Fact]
    public void Markdown_EveryCSharpBlock_IsACheckedSnippetOrAMarkedFragment()
    {
        // Arrange / Act: All() throws for an unmarked block, naming the file and line.
        var snippets = ReadmeSnippets.All();

        // Assert: the README's worker and control examples, and each package README's example, are checked.
        Assert.Contains(snippets, s => s is { File: "README.md", Name: "worker", Package: "Push.Grpc.Worker" });
        Assert.Contains(snippets, s => s is { File: "README.md", Name: "control", Package: "Push.Grpc.Control" });
        foreach (var (project, id) in PackageFeed.Packages.Where(p => p.PackageId != "Push.Grpc.Cli"))
        {
            Assert.Contains(snippets, s => s.File == Path.Combine(project, "README.md") && s.Package == id);
        }
        Assert.All(snippets, s => Assert.Contains(s.Package, PackageFeed.Packages.Select(p => p.PackageId)));
    }
}
