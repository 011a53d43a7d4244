using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Push.Testing;
using static Push.IntegrationTests.TestHelpers;

namespace Push.IntegrationTests;

/// <summary>
/// The HTTP/JSON control API (--api) of a real, secured `push start`, called with HttpClient as a PHP or curl backend
/// would: pushes reach real WebSocket clients, GET queries, the server stream as JSON lines, the same credentials and
/// reasons as gRPC, and the API's routes served on the API listener only.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HttpApiTests(SuiteFixture fixture) : IClassFixture<SuiteFixture>
{
    private Uri Api => fixture.Suite.Api ?? throw new InvalidOperationException("push start serves no --api listener");

    [Fact]
    public async Task SendToGroup_JoinedClient_GetsTextAndBinary_CamelAndSnakeCaseNames()
    {
        // Arrange
        var ct = TestTimeouts.Token();
        using var http = Client(fixture.Suite.ControlSecret);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var group = Unique("http-room");

        // Act
        var (joinStatus, _) = await PostAsync(http, "join-group", $$"""{"client_id":"{{ws.ClientId}}","group":"{{group}}"}""", ct);
        var (textStatus, text) = await PostAsync(http, "send-to-group", $$"""{"groups":["{{group}}"],"text":"héllo ✓"}""", ct);
        var (binaryStatus, binary) = await PostAsync(http, "send-to-group", $$"""{"groups":["{{group}}"],"excludeClientIds":[],"binary":"AAEC/v8="}""", ct);

        // Assert
        Assert.Equal(HttpStatusCode.OK, joinStatus);
        Assert.Equal(HttpStatusCode.OK, textStatus);
        Assert.Equal(HttpStatusCode.OK, binaryStatus);
        Assert.Equal(1, text.GetProperty("delivered").GetInt64());
        Assert.Equal(1, binary.GetProperty("delivered").GetInt64());
        Assert.Equal(1, text.GetProperty("reach").GetProperty("gatewaysAnswered").GetInt32());
        await AssertTextAsync(ws, "héllo ✓", ct);
        await AssertBinaryAsync(ws, [0, 1, 2, 0xFE, 0xFF], ct);
    }

    [Fact]
    public async Task Queries_AsGetWithQueryParameters_AnswerLikeGrpc()
    {
        // Arrange
        var ct = TestTimeouts.Token();
        using var http = Client(fixture.Suite.ControlSecret);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var (group, uid) = (Unique("http-q"), Unique("http-u"));
        await fixture.Control.JoinGroupAsync(ws.ClientId, group, ct);
        await fixture.Control.BindUidAsync(ws.ClientId, uid, ct);

        // Act
        var count = await GetAsync(http, $"/v1/get-client-count-by-group?group={group}", ct);
        var online = await GetAsync(http, $"/v1/is-uids-online?uids={uid}&uids=nobody-{uid}", ct);
        var session = await GetAsync(http, $"/v1/get-session?clientId={ws.ClientId}", ct);

        // Assert
        Assert.Equal(1, count.GetProperty("count").GetInt64());
        Assert.True(online.GetProperty("online").GetProperty(uid).GetBoolean());
        Assert.False(online.GetProperty("online").GetProperty($"nobody-{uid}").GetBoolean());
        Assert.Equal(JsonValueKind.Object, session.GetProperty("session").ValueKind);
    }

    [Fact]
    public async Task StreamClients_ServerStream_IsOneJsonObjectPerLineEndingWithReach()
    {
        // Arrange: three members, pages of two.
        var ct = TestTimeouts.Token();
        using var http = Client(fixture.Suite.ControlSecret);
        var group = Unique("http-stream");
        var sockets = await ConnectManyAsync(fixture.Suite.Ws, 3, ct);
        try
        {
            foreach (var s in sockets)
            {
                await fixture.Control.JoinGroupAsync(s.ClientId, group, ct);
            }

            // Act
            var body = await http.GetStringAsync($"/v1/stream-clients?group={group}&pageSize=2", ct);

            // Assert
            var pages = body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal([2, 1, 0], pages.Select(p => p.GetProperty("clients").GetArrayLength()));
            Assert.Equal(sockets.Select(s => s.ClientId).Order(), pages.SelectMany(p => p.GetProperty("clients").EnumerateArray()).Select(c => c.GetProperty("clientId").GetString()!).Order());
            Assert.Equal(1, pages[^1].GetProperty("reach").GetProperty("gatewaysAnswered").GetInt32());
        }
        finally
        {
            await DisposeAllAsync(sockets);
        }
    }

    [Theory]
    [InlineData(null, "ERROR_REASON_UNAUTHENTICATED", "missing credentials")]
    [InlineData("not-a-secret-of-this-cluster-0123456789", "ERROR_REASON_UNAUTHENTICATED", "invalid credentials")]
    public async Task Call_WithoutValidCredentials_Is401JsonStatusWithReason(string? secret, string reason, string message)
    {
        var ct = TestTimeouts.Token();
        using var http = Client(secret);

        var (status, error) = await PostAsync(http, "send-to-all", """{"text":"never"}""", ct);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(16, error.GetProperty("code").GetInt32());
        Assert.StartsWith(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(reason, Reason(error));
    }

    [Fact]
    public async Task Drain_WithControlSecret_Is403PermissionDenied()
    {
        var ct = TestTimeouts.Token();
        using var http = Client(fixture.Suite.ControlSecret);

        var (status, error) = await PostAsync(http, "drain", "{}", ct);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(7, error.GetProperty("code").GetInt32());
        Assert.Equal("ERROR_REASON_PERMISSION_DENIED", Reason(error));
        Assert.Contains("member scope", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("send-to-clients", """{"client_ids":[],"text":"x"}""", HttpStatusCode.BadRequest, 3, "ERROR_REASON_INVALID_FIELD", "client_ids")]
    [InlineData("send-to-client", """{"client_id":"bogus","text":"x"}""", HttpStatusCode.BadRequest, 3, "ERROR_REASON_INVALID_FIELD", "client_id")]
    [InlineData("send-to-client", """{"client_id":"0000000000000000aaaaaaaaaaaaaaaaaaaaaaaa","text":"x"}""", HttpStatusCode.NotFound, 5, "ERROR_REASON_GATEWAY_GONE", null)]
    public async Task ServiceError_IsJsonStatusWithHttpStatusReasonAndField(string route, string body, HttpStatusCode expected, int code, string reason, string? field)
    {
        var ct = TestTimeouts.Token();
        using var http = Client(fixture.Suite.ControlSecret);

        var (status, error) = await PostAsync(http, route, body, ct);

        Assert.Equal(expected, status);
        Assert.Equal(code, error.GetProperty("code").GetInt32());
        Assert.Equal(reason, Reason(error));
        if (field is not null)
        {
            var violation = error.GetProperty("details").EnumerateArray().Single(d => d.GetProperty("@type").GetString() == "type.googleapis.com/google.rpc.BadRequest");
            Assert.Equal(field, violation.GetProperty("fieldViolations")[0].GetProperty("field").GetString());
        }
    }

    [Fact]
    public async Task ApiRoutes_ServedOnTheApiListenerOnly()
    {
        // Arrange
        var ct = TestTimeouts.Token();
        using var api = Client(fixture.Suite.ControlSecret);
        using var health = new HttpClient { BaseAddress = fixture.Suite.Http };
        health.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", fixture.Suite.ControlSecret);

        // Act
        using var onHealthPort = await health.PostAsync("/v1/get-all-client-count", Json("{}"), ct);
        using var metricsOnApi = await api.GetAsync("/metrics", ct);
        var (unknownStatus, unknown) = await PostAsync(api, "no-such-method", "{}", ct);
        using var formBody = await api.PostAsync("/v1/get-all-client-count", new StringContent("{}", Encoding.UTF8, "application/x-www-form-urlencoded"), ct);

        // Assert
        Assert.Equal(HttpStatusCode.NotFound, onHealthPort.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, metricsOnApi.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknownStatus);
        Assert.Equal(5, unknown.GetProperty("code").GetInt32());
        Assert.Contains("/openapi.json", unknown.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, formBody.StatusCode);
    }

    private HttpClient Client(string? secret)
    {
        var http = new HttpClient { BaseAddress = Api, Timeout = TimeSpan.FromSeconds(20) };
        if (secret is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        }
        return http;
    }

    internal static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    internal static async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(HttpClient http, string route, string body, CancellationToken ct)
    {
        using var response = await http.PostAsync("/v1/" + route, Json(body), ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(text);
        return (response.StatusCode, doc.RootElement.Clone());
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(path, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {text}");
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    internal static string? Reason(JsonElement status)
        => status.GetProperty("details").EnumerateArray()
            .Where(d => d.GetProperty("@type").GetString() == "type.googleapis.com/google.rpc.ErrorInfo")
            .Select(d => d.GetProperty("reason").GetString())
            .FirstOrDefault();
}
