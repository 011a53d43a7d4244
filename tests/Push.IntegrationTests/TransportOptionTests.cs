using System.Net;
using System.Net.Sockets;
using Push.Testing;

namespace Push.IntegrationTests;

/// <summary>
/// Gateway:Transport on the real `push` binary: lean (the default) and kestrel (the fallback) both carry the
/// WebSocket port end to end; a wrong value, or a WebSocket port already taken, fails the start in one line.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TransportOptionTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("kestrel")]
    [InlineData("Lean")]
    public async Task Start_EachTransport_ClientGetsGreetingGroupPushAndEcho(string? transport)
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        string[] args = transport is null ? [] : ["--set", "Gateway:Transport=" + transport];
        await using var suite = await PushProcess.StartAsync("start", args, cancellationToken: ct);
        using var control = suite.Control();
        await using var ws = await TestWebSocket.ConnectAsync(suite.Ws, cancellationToken: ct);
        await control.JoinGroupAsync(ws.ClientId, "room1", ct);
        Assert.Equal(1, await control.SendToGroupAsync("room1", new string('x', 100_000), ct)); // more than one socket write
        Assert.Equal(new string('x', 100_000), await ws.ReceiveTextAsync(ct));
        await ws.SendTextAsync("ping over " + (transport ?? "default"), ct);
        Assert.Equal("ping over " + (transport ?? "default"), await ws.ReceiveTextAsync(ct)); // the demo worker echoes
    }

    [Fact]
    public async Task Start_UnknownTransport_Exits2NamingTheSetting()
    {
        var (exit, output) = await CliRun.RunAsync(["start", "--ws", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--http", "none", "--api", "none", "--set", "Gateway:Transport=epoll"], new Dictionary<string, string>(), TestTimeouts.Token(TestTimeouts.Long));

        Assert.Equal(2, exit);
        Assert.Contains("Gateway:Transport 'epoll' is not lean or kestrel", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WebSocketPortInUse_LeanTransport_Exits1WithOneLine()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;

        var (exit, output) = await CliRun.RunAsync(
            ["start", "--ws", $"127.0.0.1:{taken}", "--grpc", "127.0.0.1:0", "--http", "none", "--api", "none", "--secret", TestSecrets.Member, "--control-secret", TestSecrets.Control],
            new Dictionary<string, string>(), TestTimeouts.Token(TestTimeouts.Long));

        Assert.Equal(1, exit);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), l => l.StartsWith("push start:", StringComparison.Ordinal));
        Assert.Contains($"127.0.0.1:{taken}", line, StringComparison.Ordinal);
        Assert.Contains("address already in use", line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" at Microsoft.", output, StringComparison.Ordinal);
    }
}
