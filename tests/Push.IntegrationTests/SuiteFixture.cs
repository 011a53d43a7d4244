using Push.Control;
using Push.Testing;

namespace Push.IntegrationTests;

/// <summary>One real `push start` process (registry + gateway + demo worker) shared by a test class.</summary>
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

/// <summary>`push start` with small limits: Gateway:MaxPushSize=1024, MaxGroupsPerConnection=3, MaxSessionSize=64.</summary>
public sealed class SmallLimitsFixture : SuiteFixture
{
    public const int MaxPushSize = 1024;
    public const int MaxGroupsPerConnection = 3;
    public const int MaxSessionSize = 64;

    protected override IEnumerable<string> Arguments =>
    [
        "--set", $"Gateway:MaxPushSize={MaxPushSize}",
        "--set", $"Gateway:MaxGroupsPerConnection={MaxGroupsPerConnection}",
        "--set", $"Gateway:MaxSessionSize={MaxSessionSize}",
    ];
}
