using System.Net;
using System.Net.Sockets;
using Push.Testing;

namespace Push.ToolingTests.Infrastructure;

/// <summary>
/// The Docker engine of the container tests: DOCKER_HOST when set, else the project's own dockerd on
/// unix:///run/push-grpc-docker/docker.sock, which .ci/setup starts (.ci/dockerd). The `docker` CLI on PATH talks to it.
/// </summary>
internal static class Docker
{
    public const string OwnSocket = "unix:///run/push-grpc-docker/docker.sock";

    /// <summary>The label on every container a test starts (leftovers of a killed run are removed by <see cref="RemoveLeftoversAsync"/>).</summary>
    public const string TestLabel = "push-grpc.test=container-cluster";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(120);

    public static string Host { get; } = Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } h ? h : OwnSocket;

    private static Dictionary<string, string> Environment_() => new() { ["DOCKER_HOST"] = Host, ["DOCKER_BUILDKIT"] = "0" };

    /// <summary>Fails (never skips) when no engine answers, naming what to run.</summary>
    public static async Task RequireAsync()
    {
        var cli = ExternalTools.FindOnPath("docker");
        CommandResult? r = null;
        if (cli is not null)
        {
            r = await ExternalProcess.RunAsync(cli, ["version", "--format", "{{.Server.Version}}"], TimeSpan.FromSeconds(30), environment: Environment_());
        }
        if (cli is null || r!.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"no Docker engine answers on {Host}{(cli is null ? " (no docker CLI on PATH)" : string.Empty)}: run .ci/setup, which installs docker.io and "
                + "starts the project's own dockerd (.ci/dockerd), or set DOCKER_HOST to an engine of yours."
                + (r is null ? string.Empty : "\n" + r.StandardError.Trim()));
        }
    }

    /// <summary>
    /// Removes the containers of an earlier test run that was killed before its cleanup. Safe: test assemblies that
    /// start processes run one at a time on a machine (ProcessTestLock), so no other run's containers are live.
    /// </summary>
    public static async Task RemoveLeftoversAsync()
    {
        var ids = await CheckAsync("ps", "--all", "--quiet", "--filter", "label=" + TestLabel);
        if (ids.Length > 0)
        {
            await CheckAsync(["rm", "--force", .. ids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]);
        }
    }

    public static Task<CommandResult> RunAsync(params string[] args) => RunAsync(CommandTimeout, args);

    public static Task<CommandResult> RunAsync(TimeSpan timeout, params string[] args)
        => ExternalProcess.RunAsync(ExternalTools.FindOnPath("docker") ?? "docker", args, timeout, environment: Environment_());

    /// <summary>Runs docker ARGS and returns its trimmed stdout; throws with the output when it fails.</summary>
    public static async Task<string> CheckAsync(params string[] args)
    {
        var r = await RunAsync(args);
        return r.ExitCode == 0 ? r.StandardOutput.Trim() : throw new InvalidOperationException(r.Describe("docker " + string.Join(' ', args)));
    }

    /// <summary>deploy/build-image.sh [--python-worker] TAG, the script users run; returns its output (with the build time).</summary>
    public static async Task<CommandResult> BuildImageAsync(string tag, bool pythonWorker)
    {
        string[] args = pythonWorker ? [Path.Combine(RepoPaths.Root, "deploy", "build-image.sh"), "--python-worker", tag] : [Path.Combine(RepoPaths.Root, "deploy", "build-image.sh"), tag];
        var r = await ExternalProcess.RunAsync("bash", args, TimeSpan.FromMinutes(10), workingDirectory: RepoPaths.Root, environment: Environment_());
        return r.ExitCode == 0 ? r : throw new InvalidOperationException(r.Describe("deploy/build-image.sh " + tag));
    }

    /// <summary>A TCP port the OS picks as free on that loopback address (released at once for the container to bind).</summary>
    public static int FreePort(string address)
    {
        using var l = new TcpListener(IPAddress.Parse(address), 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
