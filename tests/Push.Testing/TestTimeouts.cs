namespace Push.Testing;

/// <summary>Every async test runs under one of these.</summary>
public static class TestTimeouts
{
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(120);

    public static CancellationToken Token(TimeSpan? timeout = null) => new CancellationTokenSource(timeout ?? Default).Token;
}
