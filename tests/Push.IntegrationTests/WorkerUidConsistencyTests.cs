using System.Text.Json;
using Push.Testing;

namespace Push.IntegrationTests;

[Trait("Category", "Integration")]
public sealed class WorkerUidConsistencyTests(SuiteFixture fixture) : IClassFixture<SuiteFixture>
{
    [Fact]
    public async Task BindThenWhoAmI_BackToBack_WorkerSeesItsOwnBind()
    {
        // Arrange: the second message reaches the gateway before the bind command comes back from the worker, so the
        // gateway builds its event with the old uid; the SDK must keep the bind it made.
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var uid = "u-" + Guid.NewGuid().ToString("N")[..8];

        // Act
        await ws.SendTextAsync($"{{\"type\":\"bind\",\"uid\":\"{uid}\"}}", ct);
        await ws.SendTextAsync("{\"type\":\"whoami\"}", ct);
        string? seen = null;
        while (seen is null)
        {
            var text = await ws.ReceiveTextAsync(ct);
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.TryGetProperty("clientId", out _) && doc.RootElement.TryGetProperty("session", out _))
            {
                seen = doc.RootElement.TryGetProperty("uid", out var u) ? u.GetString() : "(none)";
            }
        }

        // Assert
        Assert.Equal(uid, seen);
        Assert.Equal(uid, await fixture.Control.GetUidByClientIdAsync(ws.ClientId, ct));
    }
}
