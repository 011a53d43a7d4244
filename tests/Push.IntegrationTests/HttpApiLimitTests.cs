using System.Net;
using System.Net.Http.Headers;
using Push.Testing;
using static Push.IntegrationTests.HttpApiTests;

namespace Push.IntegrationTests;

/// <summary>
/// The HTTP/JSON API keeps the gRPC form's limits (`push start` with Gateway:MaxPushSize=1024): a payload above
/// MaxPushSize is INVALID_ARGUMENT, a decoded request above MaxPushSize + 64 KiB is RESOURCE_EXHAUSTED (as grpc-dotnet
/// refuses it on the gRPC port), and a body above twice that is refused before it is parsed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HttpApiLimitTests(SmallLimitsFixture fixture) : IClassFixture<SmallLimitsFixture>
{
    private const int MessageBound = SmallLimitsFixture.MaxPushSize + 64 * 1024;

    [Fact]
    public async Task Payload_AboveMaxPushSize_IsInvalidArgumentNamingTheLimit()
    {
        var ct = TestTimeouts.Token();
        using var http = Client();

        var (status, error) = await PostAsync(http, "send-to-group", $$"""{"groups":["g"],"text":"{{new string('x', SmallLimitsFixture.MaxPushSize + 1)}}"}""", ct);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("ERROR_REASON_INVALID_FIELD", Reason(error));
        Assert.Contains("Gateway:MaxPushSize", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_AboveTheGrpcMessageBound_IsResourceExhaustedLimitExceeded()
    {
        // Arrange: exclusions making the decoded message larger than the bound, the JSON body under twice it.
        var ct = TestTimeouts.Token();
        using var http = Client();
        var ids = string.Join(',', Enumerable.Repeat($"\"{new string('a', 40)}\"", MessageBound / 40 + 10));

        // Act
        var (status, error) = await PostAsync(http, "send-to-group", $$"""{"groups":["g"],"exclude_client_ids":[{{ids}}],"text":"x"}""", ct);

        // Assert
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal(8, error.GetProperty("code").GetInt32());
        Assert.Equal("ERROR_REASON_LIMIT_EXCEEDED", Reason(error));
        Assert.Contains($"{MessageBound}-byte limit", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Body_AboveTwiceTheBound_IsRefusedBeforeParsing()
    {
        var ct = TestTimeouts.Token();
        using var http = Client();
        var ids = string.Join(',', Enumerable.Repeat($"\"{new string('a', 40)}\"", 2 * MessageBound / 40 + 10));

        var (status, error) = await PostAsync(http, "send-to-group", $$"""{"groups":["g"],"exclude_client_ids":[{{ids}}],"text":"x"}""", ct);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Request body too large", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private HttpClient Client()
    {
        var http = new HttpClient { BaseAddress = fixture.Suite.Api!, Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", fixture.Suite.ControlSecret);
        return http;
    }
}
