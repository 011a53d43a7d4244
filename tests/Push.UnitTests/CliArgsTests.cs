using Push.Cli.Commands;

namespace Push.UnitTests;

/// <summary>The `push` command line (System.CommandLine over <see cref="CliSpec"/>): what parses, and the one-line errors of what does not.</summary>
public sealed class CliArgsTests
{
    private static string Error(params string[] args) => Assert.Throws<CliUsageException>(() => CliArgs.Parse(args)).Message;

    [Theory]
    [InlineData("push start: unknown flag '--wss' (did you mean --ws?)", "start", "--wss", "1")]
    [InlineData("push status: unknown flag '--grcp' (did you mean --grpc?)", "status", "--grcp", "x")]
    [InlineData("push gateway: unknown flag '--registy' (did you mean --registry?)", "gateway", "--registy", "http://127.0.0.1:1236")]
    [InlineData("push send: unknown flag '--groups' (did you mean --group?)", "send", "--groups", "g", "--text", "t")]
    [InlineData("push start: unknown flag '--pingInterval' (settings are given with --set: did you mean --set Gateway:PingInterval=VALUE?)", "start", "--pingInterval", "5")]
    [InlineData("push: unknown command 'strat' (did you mean start?)", "strat")]
    [InlineData("push worker: unknown flag '--ws'", "worker", "--ws", "127.0.0.1:1")]
    [InlineData("push registry: unknown flag '--no-demo-worker'", "registry", "--no-demo-worker")]
    [InlineData("push start: flag --ws needs a value", "start", "--ws")]
    [InlineData("push start: unexpected argument 'Gateway:PingInterval=5' (flags look like --name value) (did you mean --set Gateway:PingInterval=5?)", "start", "Gateway:PingInterval=5")]
    [InlineData("push start: flag --grpc is given more than once", "start", "--grpc", "127.0.0.1:1", "--grpc", "127.0.0.1:2")]
    public void Parse_Misuse_IsOneLineNamingTheFlagWithASuggestionAndTheHelpHint(string expected, params string[] args)
    {
        var message = Error(args);

        Assert.StartsWith(expected + ";", message, StringComparison.Ordinal);
        Assert.EndsWith("--help", message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void Parse_FlagOfAnotherCommandBeforeAnyCommand_SaysToGiveACommand()
        => Assert.Contains("give a command first", Error("--ws", "127.0.0.1:1"), StringComparison.Ordinal);

    [Theory]
    [InlineData("start", "ws", "grpc", "http", "advertise", "secret", "control-secret", "tls-cert", "tls-key", "grpc-tls-cert", "grpc-tls-key", "grpc-client-ca", "ready-file", "log-format", "registry")]
    [InlineData("gateway", "ws", "grpc", "http", "advertise", "secret", "control-secret", "tls-cert", "tls-key", "grpc-tls-cert", "grpc-tls-key", "grpc-client-ca", "ready-file", "log-format", "registry")]
    [InlineData("worker", "grpc", "http", "advertise", "secret", "control-secret", "grpc-tls-cert", "grpc-tls-key", "grpc-client-ca", "ready-file", "log-format", "registry")]
    [InlineData("registry", "grpc", "http", "advertise", "secret", "control-secret", "grpc-tls-cert", "grpc-tls-key", "grpc-client-ca", "ready-file", "log-format")]
    [InlineData("status", "grpc", "secret", "tls-ca", "tls-client-cert", "tls-client-key")]
    [InlineData("send", "grpc", "secret", "tls-ca", "tls-client-cert", "tls-client-key", "client", "text")]
    public void Parse_EveryValueFlagOfARole_IsReadBack(string command, params string[] flags)
    {
        var cli = CliArgs.Parse([command, .. flags.SelectMany(f => new[] { "--" + f, "value-of-" + f })]);

        Assert.Equal(command, cli.Command);
        foreach (var f in flags)
        {
            Assert.Equal("value-of-" + f, cli.Get(f));
        }
    }

    [Theory]
    [InlineData("start", "check", "no-demo-worker")]
    [InlineData("gateway", "check")]
    [InlineData("status", "json")]
    [InlineData("send", "all", "binary")]
    public void Parse_Switches_AreSetWithoutAValue(string command, params string[] switches)
    {
        var cli = CliArgs.Parse([command, .. switches.Select(s => "--" + s)]);

        Assert.All(switches, s => Assert.True(cli.Has(s), s));
        Assert.False(CliArgs.Parse([command]).Has(switches[0]));
    }

    [Fact]
    public void Parse_RepeatableFlags_KeepEveryValueInOrder()
    {
        var cli = CliArgs.Parse(["gateway", "--registry", "http://a:1", "--set", "Gateway:PingInterval=00:00:05", "--registry", "http://b:2", "--set", "Gateway:MaxConnections=10"]);
        var send = CliArgs.Parse(["send", "--uid", "alice", "--uid", "bob", "--group", "g1", "--text", "hi"]);

        Assert.Equal(["http://a:1", "http://b:2"], cli.All("registry"));
        Assert.Equal(["Gateway:PingInterval=00:00:05", "Gateway:MaxConnections=10"], cli.All("set"));
        Assert.Equal(["alice", "bob"], send.All("uid"));
        Assert.Equal(["g1"], send.All("group"));
    }

    [Fact]
    public void Parse_EqualsForm_AndValuesThatLookLikeResponseFilesOrFlags_AreValues()
    {
        var cli = CliArgs.Parse(["start", "--ws=127.0.0.1:9000", "--set", "Gateway:PingData=@ping"]);
        var send = CliArgs.Parse(["send", "--all", "--text", "@everyone"]);

        Assert.Equal("127.0.0.1:9000", cli.Get("ws"));
        Assert.Equal(["Gateway:PingData=@ping"], cli.All("set"));
        Assert.Equal("@everyone", send.Get("text"));
    }

    [Theory]
    [InlineData("help")]
    [InlineData("--help")]
    [InlineData("-h")]
    public void Parse_Help_IsTheMainHelp(string arg)
    {
        var cli = CliArgs.Parse([arg]);

        Assert.True(cli.Help);
        Assert.Equal("help", cli.Command);
        Assert.True(CliArgs.Parse([]).Help);
    }

    [Fact]
    public void Help_OfEachCommand_ListsEveryDeclaredFlagWithItsEnvironmentVariable()
    {
        foreach (var spec in CliSpec.Commands)
        {
            var cli = CliArgs.Parse([spec.Name, "--help"]);
            var help = HelpText.For(CliSpec.Find(cli.Command)!);

            Assert.True(cli.Help);
            foreach (var flag in spec.Flags)
            {
                Assert.Contains("--" + flag.Name, help, StringComparison.Ordinal);
                if (flag.Env is not null)
                {
                    Assert.Contains($"(env {flag.Env})", help, StringComparison.Ordinal);
                }
            }
        }
        Assert.Contains("Gateway:PingInterval (00:00:25)", HelpText.For(CliSpec.Find("gateway")!), StringComparison.Ordinal);
        Assert.All(CliSpec.Commands, c => Assert.Contains("  " + c.Name + " ", HelpText.Main, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("ws", "wss")]
    [InlineData("grpc", "grcp")]
    [InlineData("control-secret", "control")]
    [InlineData(null, "banana")]
    public void Closest_FindsNearTyposOnly(string? expected, string typo)
        => Assert.Equal(expected, Suggest.Closest(typo, CliSpec.Find("start")!.Flags.Select(f => f.Name)));
}
