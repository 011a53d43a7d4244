using Push.Testing;

namespace Push.IntegrationTests;

[Trait("Category", "Integration")]
public sealed class SmokeTests(SuiteFixture fixture) : IClassFixture<SuiteFixture>
{
    [Fact]
    public async Task Start_ClientGetsGreetingAndGroupPush()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        Assert.Equal(40, ws.ClientId.Length);

        await fixture.Control.JoinGroupAsync(ws.ClientId, "room1", ct);
        var delivered = await fixture.Control.SendToGroupAsync("room1", "hello", ct);

        Assert.Equal(1, delivered);
        Assert.Equal("hello", await ws.ReceiveTextAsync(ct));
    }
}
