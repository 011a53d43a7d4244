using Push.Gateway;

namespace Push.UnitTests;

public sealed class ClientIdTests
{
    [Fact]
    public void Format_ThenParse_RoundTrips()
    {
        var id = ClientId.Format("0123456789abcdef", 42);

        Assert.Equal(40, id.Length);
        Assert.StartsWith("0123456789abcdef000000000000002a", id, StringComparison.Ordinal);
        Assert.True(ClientId.TryParse(id, out var gw, out var key));
        Assert.Equal("0123456789abcdef", gw);
        Assert.Equal(42, key);
    }

    [Fact]
    public void Format_SameKey_DiffersInItsRandomTail()
    {
        // 32 random bits beyond the table key: two ids with the same key are (almost surely) different.
        var ids = Enumerable.Range(0, 64).Select(_ => ClientId.Format("0123456789abcdef", 42)).ToHashSet(StringComparer.Ordinal);

        Assert.True(ids.Count > 60);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("0123456789abcdef00000000002a")] // the old 28-character form
    [InlineData("0123456789ABCDEF000000000000002a0000000a")]
    [InlineData("0123456789abcdef000000000000002a0000000g")]
    [InlineData("0123456789abcdef000000000000002a0000000a0")]
    public void TryParse_Malformed_ReturnsFalse(string value)
        => Assert.False(ClientId.TryParse(value, out _, out _));
}
