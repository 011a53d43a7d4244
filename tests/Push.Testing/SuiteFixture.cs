using Xunit;
using Push.Control;

namespace Push.Testing;

/// <summary>
/// One real `push start` process (registry + gateway + demo worker) and a control client, shared by a test class.
/// Derive and override <see cref="Arguments"/> for a suite with other settings.
/// </summary>
public class SuiteFixture : IAsyncLifetime
{
    public PushProcess Suite { get; private set; } = null!;
    public PushControlClient Control { get; private set; } = null!;

    /// <summary>Extra arguments of `push start` (e.g. --set KEY=VALUE).</summary>
    protected virtual IEnumerable<string> Arguments => [];

    public async Task InitializeAsync()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        Suite = await PushProcess.StartAsync("start", Arguments, cancellationToken: ct);
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
