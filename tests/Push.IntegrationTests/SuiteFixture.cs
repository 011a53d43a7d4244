using Push.Control;
using Push.Testing;

namespace Push.IntegrationTests;

/// <summary>One real `push start` process (registry + gateway + demo worker) shared by a test class.</summary>
public sealed class SuiteFixture : IAsyncLifetime
{
    public PushProcess Suite { get; private set; } = null!;
    public PushControlClient Control { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Suite = await PushProcess.StartAsync("start", cancellationToken: TestTimeouts.Token(TestTimeouts.Long));
        Control = new PushControlClient(Suite.GrpcAddress);
    }

    public async Task DisposeAsync()
    {
        Control?.Dispose();
        if (Suite is not null)
        {
            await Suite.DisposeAsync();
        }
    }
}
