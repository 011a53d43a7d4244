using Push.Gateway;

namespace Push.UnitTests;

public sealed class ClientIdTests
{
    [Fact]
    public void Format_ThenParse_RoundTrips()
    {
        var id = ClientId.Format("0123456789abcdef", 42);

        Assert.Equal("0123456789abcdef00000000002a", id);
        Assert.True(ClientId.TryParse(id, out var gw, out var seq));
        Assert.Equal("0123456789abcdef", gw);
        Assert.Equal(42, seq);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("0123456789ABCDEF00000000002a")]
    [InlineData("0123456789abcdef00000000002g")]
    [InlineData("0123456789abcdef00000000002a0")]
    public void TryParse_Malformed_ReturnsFalse(string value)
        => Assert.False(ClientId.TryParse(value, out _, out _));
}
