namespace Push.UnitTests.Worker;

/// <summary>Bound of every wait in these tests (as tests/Push.Testing/TestTimeouts, without its process helpers).</summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(10);
}
