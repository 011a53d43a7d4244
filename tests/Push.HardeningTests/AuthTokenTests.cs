using System.Net;
using System.Text.Json;
using Push.Control;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>`push start` (demo worker) with Gateway:Token: every handshake needs a signed HS256 token.</summary>
public sealed class TokenGatewayFixture : SuiteFixture
{
    public const string Key = "handshake-token-key-for-tests-0123456789";
    public const string Issuer = "auth-tests";
    public const string Audience = "push-tests";

    public static string Token(string sub, IDictionary<string, object>? extra = null)
    {
        var claims = new Dictionary<string, object> { ["iss"] = Issuer, ["aud"] = new[] { "other", Audience } };
        foreach (var (k, v) in extra ?? new Dictionary<string, object>())
        {
            claims[k] = v;
        }
        return AuthTokens.Valid(Key, sub, claims);
    }

    protected override IEnumerable<string> Arguments =>
    [
        "--set", $"Gateway:Token:HmacSecret={Key}",
        "--set", $"Gateway:Token:Issuer={Issuer}",
        "--set", $"Gateway:Token:Audience={Audience}",
        "--set", "Gateway:Token:ClockSkew=00:00:05",
    ];
}

[Trait("Category", "Integration")]
public sealed class AuthTokenTests(TokenGatewayFixture fixture, ITestOutputHelper output) : IClassFixture<TokenGatewayFixture>
{
    [Fact]
    public async Task Token_ValidInQuery_ConnectsWithSubAsUid()
    {
        var ct = TestTimeouts.Token();
        var token = TokenGatewayFixture.Token("alice");
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, "/?room=1&token=" + Uri.EscapeDataString(token), cancellationToken: ct);

        await ws.SendTextAsync("{\"type\":\"whoami\"}", ct);
        using var whoami = JsonDocument.Parse(await ws.ReceiveTextAsync(ct));

        // The uid was bound before the worker's first callback (its whoami sees it) and the control API sees it too.
        Assert.Equal("alice", whoami.RootElement.GetProperty("uid").GetString());
        Assert.Equal("alice", await fixture.Control.GetUidByClientIdAsync(ws.ClientId, ct));
        Assert.Equal(1, await fixture.Control.SendToUidAsync("alice", "for alice", ct));
        Assert.Equal("for alice", await ws.ReceiveTextAsync(ct));
    }

    [Fact]
    public async Task Token_ValidInAuthorizationHeader_Connects()
    {
        var ct = TestTimeouts.Token();
        var token = TokenGatewayFixture.Token("bob");
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, configure: o => o.SetRequestHeader("Authorization", "Bearer " + token), cancellationToken: ct);

        Assert.Equal("bob", await fixture.Control.GetUidByClientIdAsync(ws.ClientId, ct));
    }

    public static TheoryData<string, string> BadTokens()
    {
        const string key = TokenGatewayFixture.Key;
        var now = AuthTokens.Now;
        var good = TokenGatewayFixture.Token("mallory");
        var parts = good.Split('.');
        var hs256 = new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "JWT" };
        var claims = new Dictionary<string, object> { ["sub"] = "mallory", ["exp"] = now + 3600, ["iss"] = TokenGatewayFixture.Issuer, ["aud"] = TokenGatewayFixture.Audience };
        Dictionary<string, object> With(string k, object v) => new(claims) { [k] = v };
        Dictionary<string, object> Without(string k)
        {
            var d = new Dictionary<string, object>(claims);
            d.Remove(k);
            return d;
        }
        return new TheoryData<string, string>
        {
            { "wrong key", AuthTokens.Mint("another-key-that-is-long-enough-0123456789", hs256, claims) },
            { "expired", AuthTokens.Mint(key, hs256, With("exp", now - 60)) },
            { "not yet valid", AuthTokens.Mint(key, hs256, With("nbf", now + 600)) },
            { "no exp", AuthTokens.Mint(key, hs256, Without("exp")) },
            { "no sub", AuthTokens.Mint(key, hs256, Without("sub")) },
            { "wrong issuer", AuthTokens.Mint(key, hs256, With("iss", "someone-else")) },
            { "wrong audience", AuthTokens.Mint(key, hs256, With("aud", "not-push")) },
            { "alg none", AuthTokens.EncodeJson(new Dictionary<string, object> { ["alg"] = "none" }) + "." + parts[1] + "." },
            { "alg none with signature", AuthTokens.EncodeJson(new Dictionary<string, object> { ["alg"] = "none" }) + "." + parts[1] + "." + parts[2] },
            { "alg HS512", AuthTokens.Mint(key, new Dictionary<string, object> { ["alg"] = "HS512" }, claims) },
            { "crit header", AuthTokens.Mint(key, new Dictionary<string, object> { ["alg"] = "HS256", ["crit"] = new[] { "x" } }, claims) },
            { "tampered claims", parts[0] + "." + AuthTokens.EncodeJson(With("sub", "admin")) + "." + parts[2] },
            { "truncated signature", parts[0] + "." + parts[1] + "." + parts[2][..^4] },
            { "signature with non-canonical last character", parts[0] + "." + parts[1] + "." + parts[2][..^1] + NonCanonical(parts[2][^1]) },
            { "not base64url", parts[0] + "." + parts[1] + ".$$$$" },
            { "payload not base64url", parts[0] + ".e30*." + parts[2] },
            { "not a jwt", "hello" },
            { "four parts", good + ".x" },
            { "empty", string.Empty },
        };
    }

    /// <summary>The same 4 significant bits as <paramref name="last"/> (the last of 43 characters) with a stray low bit set.</summary>
    private static char NonCanonical(char last)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        return alphabet[alphabet.IndexOf(last, StringComparison.Ordinal) | 1];
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Token_Invalid_Http401AndNoClient(string name, string token)
    {
        var ct = TestTimeouts.Token();
        var before = await fixture.Control.GetAllClientCountAsync(ct);

        var status = await AuthHelpers.HandshakeStatusAsync(new Uri(fixture.Suite.Ws, "/?token=" + Uri.EscapeDataString(token)), null, ct);
        var viaHeader = await AuthHelpers.HandshakeStatusAsync(fixture.Suite.Ws, o => o.SetRequestHeader("Authorization", "Bearer " + token), ct);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(HttpStatusCode.Unauthorized, viaHeader);
        Assert.Equal(before, await fixture.Control.GetAllClientCountAsync(ct));
        Assert.Empty(await fixture.Control.GetClientIdByUidAsync("mallory", ct));
        output.WriteLine($"{name}: {(int)status}");
    }

    [Fact]
    public async Task Token_200SequentialHandshakes_EachAcceptedAndBoundToItsSub()
    {
        var ct = TestTimeouts.Token();
        var tokens = Enumerable.Range(0, 200).Select(i => "/?token=" + TokenGatewayFixture.Token($"m{i}")).ToArray();
        await AuthHelpers.SequentialHandshakesAsync(fixture.Control, i => new Uri(fixture.Suite.Ws, tokens[i]), 20, ct); // warm-up

        var times = await AuthHelpers.SequentialHandshakesAsync(fixture.Control, i => new Uri(fixture.Suite.Ws, tokens[i]), 200, ct, async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                Assert.Single(await fixture.Control.GetClientIdByUidAsync($"m{i}", ct));
            }
        });

        output.WriteLine($"handshake with token check (loopback, sequential, 200; information only): {AuthHelpers.Percentiles(times)}");
    }

    [Fact]
    public async Task Token_Missing_Http401WithBearerChallenge()
    {
        var ct = TestTimeouts.Token();
        var (status, socket) = await AuthHelpers.HandshakeAsync(fixture.Suite.Ws, null, ct);
        using var _ = socket;

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.NotNull(socket.HttpResponseHeaders);
        Assert.Contains(socket.HttpResponseHeaders!, h => h.Key.Equals("WWW-Authenticate", StringComparison.OrdinalIgnoreCase) && h.Value.Any(v => v.StartsWith("Bearer", StringComparison.Ordinal)));
    }
}
