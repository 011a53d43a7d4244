using Push.Control;
using Push.Testing;

namespace Push.ToolingTests.Infrastructure;

/// <summary>One real `push start` (registry + gateway + demo worker) shared by the tests of <see cref="PushStartCollection"/>.</summary>
public sealed class PushStartFixture : IAsyncLifetime
{
    public PushProcess Suite { get; private set; } = null!;
    public PushControlClient Control { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Suite = await PushProcess.StartAsync("start", cancellationToken: TestTimeouts.Token(TestTimeouts.Long));
        Control = Suite.Control();
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

/// <summary>Tests that share one `push start` run one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class PushStartCollection : ICollectionFixture<PushStartFixture>
{
    public const string Name = "push start";
}
