using Push.Testing;

namespace Push.IntegrationTests;

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
