using System.Net;
using System.Net.Sockets;
using Push.Testing;

namespace Push.IntegrationTests;

/// <summary>
/// The real `push` binary misused or unable to start: exit code 2 for misuse, 1 for a failed start, each a single line
/// that names what is wrong and no stack trace; `--check` validates (env fallbacks included) without listening.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CliErrorTests
{
    private static readonly Dictionary<string, string> NoEnv = [];

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Start_UnknownFlag_Exits2WithOneLineNamingItAndTheSuggestion()
    {
        var (exit, output) = await CliRun.RunAsync(["start", "--wss", "1"], NoEnv, TestTimeouts.Token());

        Assert.Equal(2, exit);
        var line = Assert.Single(Lines(output));
        Assert.Contains("'--wss'", line, StringComparison.Ordinal);
        Assert.Contains("did you mean --ws?", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_PortInUse_Exits1WithOneLineAndNoStackTrace()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;

        var (exit, output) = await CliRun.RunAsync(
            ["start", "--ws", $"127.0.0.1:{FreePort()}", "--grpc", $"127.0.0.1:{taken}", "--http", "none", "--api", "none", "--secret", TestSecrets.Member, "--control-secret", TestSecrets.Control],
            NoEnv, TestTimeouts.Token(TestTimeouts.Long));

        Assert.Equal(1, exit);
        var errors = Lines(output).Where(l => l.StartsWith("push start:", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(errors);
        Assert.Contains($"127.0.0.1:{taken}", line, StringComparison.Ordinal);
        Assert.Contains("address already in use", line, StringComparison.Ordinal);
        Assert.DoesNotContain(" at Microsoft.", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", output, StringComparison.Ordinal);
        Assert.True(output.Length < 1000, output);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("send")]
    public async Task StatusOrSend_NothingListening_NamesTheAddressAndWhatToCheck(string command)
    {
        var address = $"http://127.0.0.1:{FreePort()}";
        string[] args = command == "send" ? ["send", "--all", "--text", "hi", "--grpc", address] : ["status", "--grpc", address];

        var (exit, output) = await CliRun.RunAsync([.. args, "--secret", TestSecrets.Control], NoEnv, TestTimeouts.Token());

        Assert.Equal(1, exit);
        var line = Assert.Single(Lines(output));
        Assert.StartsWith($"push {command}: no gateway answers at {address} (--grpc)", line, StringComparison.Ordinal);
        Assert.Contains("Check that a gateway runs there", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_TakesTheEnvironmentFallbacks_AndListensOnNothing()
    {
        var ws = FreePort();
        var grpc = FreePort();
        var env = new Dictionary<string, string>
        {
            ["PUSH_WS"] = $"127.0.0.1:{ws}",
            ["PUSH_GRPC"] = $"127.0.0.1:{grpc}",
            ["PUSH_HTTP"] = "none",
            ["PUSH_REGISTRY"] = "http://127.0.0.1:1236",
            ["PUSH_SECRET"] = TestSecrets.Member,
            ["PUSH_LOG_FORMAT"] = "json",
        };

        var (exit, output) = await CliRun.RunAsync(["gateway", "--check"], env, TestTimeouts.Token(TestTimeouts.Long));

        Assert.True(exit == 0, output);
        Assert.Contains($"push gateway: configuration OK: would listen on WebSocket ws://127.0.0.1:{ws}, gRPC http://127.0.0.1:{grpc} (nothing started)", output, StringComparison.Ordinal);
        using var probe = new TcpListener(IPAddress.Loopback, grpc);
        probe.Start(); // the port is still free: --check bound nothing
    }

    [Theory]
    [InlineData("invalid settings: Failed to convert configuration value 'soon' at 'Gateway:PingInterval'", "--set", "Gateway:PingInterval=soon")]
    [InlineData("invalid settings: Cluster:ControlSecret (--control-secret) needs Cluster:Secret", "--control-secret", "0123456789abcdef0123456789abcdef")]
    [InlineData("--log-format 'xml' is not simple or json", "--log-format", "xml")]
    [InlineData("--ws 'nowhere' is not HOST:PORT", "--ws", "nowhere")]
    public async Task Check_BadSettings_Exit2WithOneLineNamingTheSetting(string expected, params string[] args)
    {
        var (exit, output) = await CliRun.RunAsync(["start", "--check", "--http", "none", .. args], NoEnv, TestTimeouts.Token(TestTimeouts.Long));

        Assert.Equal(2, exit);
        var line = Assert.Single(Lines(output));
        Assert.StartsWith("push start: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gateway_WithoutRegistry_Exits2NamingTheFlag()
    {
        var (exit, output) = await CliRun.RunAsync(["gateway"], NoEnv, TestTimeouts.Token());

        Assert.Equal(2, exit);
        Assert.Contains("--registry URL is required (or PUSH_REGISTRY)", Assert.Single(Lines(output)), StringComparison.Ordinal);
    }
}
