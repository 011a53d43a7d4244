using System.Buffers;
using System.Text;
using Push.Gateway.WebSockets;

namespace Push.UnitTests;

public sealed class HandshakeRequestTests
{
    private static HandshakeRequest? Parse(string head) => HandshakeRequest.Parse(Encoding.Latin1.GetBytes(head));

    [Fact]
    public void Parse_WebSocketUpgrade_SplitsPathQueryAndHeaders()
    {
        var r = Parse("GET /chat/room?token=a%20b&x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nX-Custom:   spaced value  \r\nSec-WebSocket-Version: 13");

        Assert.NotNull(r);
        Assert.Equal("GET", r!.Method);
        Assert.Equal("/chat/room", r.Path);
        Assert.Equal("token=a%20b&x=1", r.Query);
        Assert.Equal("HTTP/1.1", r.Version);
        Assert.Equal("example.com", r.Header("host"));
        Assert.Equal("spaced value", r.Header("X-CUSTOM"));
        Assert.True(r.HeaderHasToken("Connection", "upgrade"));
        Assert.True(r.HeaderHasToken("upgrade", "WebSocket"));
        Assert.False(r.HeaderHasToken("Connection", "close"));
        Assert.Null(r.Header("Origin"));
    }

    [Fact]
    public void Parse_WithoutQuery_HasEmptyQuery()
    {
        var r = Parse("GET / HTTP/1.1\r\nHost: h");
        Assert.Equal("/", r!.Path);
        Assert.Equal("", r.Query);
    }

    [Fact]
    public void Header_RepeatedHeadersAreJoined()
    {
        var r = Parse("GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2");
        Assert.Equal("1, 2", r!.Header("X-A"));
    }

    [Theory]
    [InlineData("GET /\r\nHost: h")] // no version
    [InlineData("GET / HTTP/2\r\nHost: h")]
    [InlineData("GET  / HTTP/1.1\r\nHost: h")] // empty target
    [InlineData("GET / HTTP/1.1\r\nNoColon")]
    [InlineData("GET / HTTP/1.1\r\n: empty name")]
    [InlineData("GET / HTTP/1.1\r\nBad Name: x")]
    [InlineData("GET / HTTP/1.1\r\n folded: x")]
    public void Parse_Malformed_ReturnsNull(string head)
        => Assert.Null(Parse(head));

    [Fact]
    public void FindHeadEnd_ReturnsTheLengthThroughTheBlankLine_OrMinusOne()
    {
        var head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        var bytes = Encoding.ASCII.GetBytes(head + "\x81\x80frame");

        Assert.Equal(head.Length, HandshakeRequest.FindHeadEnd(new ReadOnlySequence<byte>(bytes)));
        Assert.Equal(-1, HandshakeRequest.FindHeadEnd(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: h\r\n"))));
    }

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, "session=abc; theme=dark")]
    public void CopyHeadersTo_CookieOnlyWhenForwarded(bool forwardCookies, string? expectedCookie)
    {
        var r = Parse("GET / HTTP/1.1\r\nHost: h\r\nCookie: session=abc\r\ncookie: theme=dark\r\nX-A: 1\r\nx-a: 2");
        var headers = new Dictionary<string, string>();

        r!.CopyHeadersTo(headers, forwardCookies);

        Assert.Equal("h", headers["host"]);
        Assert.Equal("1, 2", headers["x-a"]);
        Assert.Equal(expectedCookie, headers.GetValueOrDefault("cookie"));
    }
}
