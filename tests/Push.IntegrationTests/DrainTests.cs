using System.Net.WebSockets;
using Google.Protobuf.WellKnownTypes;
using Push.Testing;
using Push.V1;
using static Push.IntegrationTests.TestHelpers;

namespace Push.IntegrationTests;

/// <summary>Drain on its own `push start` (the gateway takes no clients afterwards).</summary>
[Trait("Category", "Integration")]
public sealed class DrainTests(SuiteFixture fixture) : IClassFixture<SuiteFixture>
{
    [Fact]
    public async Task Drain_ClosesEveryClientWith1001_RefusesNewOnes_ReportsDraining()
    {
        var ct = TestTimeouts.Token();
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 2, ct);
        try
        {
            // Drain is member scope: an operator's (member) credential, not a backend's.
            using var member = fixture.Suite.MemberControl();
            var r = await member.Raw.DrainAsync(new DrainRequest { Grace = Duration.FromTimeSpan(TimeSpan.FromSeconds(5)) }, cancellationToken: ct);

            Assert.Equal(2, r.ClientsClosed);
            foreach (var s in sockets)
            {
                var (status, reason) = await s.Closed.WaitAsync(ct);
                Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status); // 1001 going away
                Assert.Equal("gateway draining: reconnect", reason);
            }
            await WaitForClientCountAsync(fixture.Control, 0, ct);
            var ex = await Assert.ThrowsAnyAsync<WebSocketException>(() => TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct));
            Assert.Contains("503", ex.Message, StringComparison.Ordinal);
            Assert.True((await fixture.Control.GetStatusAsync(ct)).Gateways.Single().Draining);
            Assert.Equal(2, (await member.Raw.DrainAsync(new DrainRequest(), cancellationToken: ct)).ClientsClosed); // a second call reports the same drain
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }
}
