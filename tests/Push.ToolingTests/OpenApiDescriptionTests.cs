using System.Net;
using System.Net.Http.Headers;
using Microsoft.OpenApi.Models;
using Microsoft.OpenApi.Readers;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>
/// The OpenAPI description served by a real `push start` (GET /openapi.json on the --api port): it validates as
/// OpenAPI 3 (Microsoft.OpenApi.Readers), lists every method of the generated push.v1.GatewayService descriptor, and
/// every route it lists is served and guarded (401 without credentials).
/// </summary>
[Collection(PushStartCollection.Name)]
[Trait("Category", "Integration")]
public sealed class OpenApiDescriptionTests(PushStartFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task OpenApiJson_Served_ValidatesAndListsEveryGatewayServiceMethod()
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        using var http = new HttpClient { BaseAddress = fixture.Suite.Api };

        // Act
        using var response = await http.GetAsync("/openapi.json", ct);
        var json = await response.Content.ReadAsStringAsync(ct);
        var document = new OpenApiStringReader().Read(json, out var diagnostic);

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(diagnostic.Errors.Count == 0, string.Join("\n", diagnostic.Errors.Select(e => $"{e.Pointer}: {e.Message}")));
        Assert.Equal(Microsoft.OpenApi.OpenApiSpecVersion.OpenApi3_0, diagnostic.SpecificationVersion);
        var operations = document.Paths.SelectMany(p => p.Value.Operations.Select(o => (Path: p.Key, Verb: o.Key, Op: o.Value))).ToList();
        output.WriteLine($"{operations.Count} operations on {document.Paths.Count} paths");
        var methods = Push.V1.GatewayService.Descriptor.Methods;
        Assert.NotEmpty(methods);
        foreach (var method in methods)
        {
            var op = Assert.Single(operations, o => o.Op.OperationId == method.Name);
            Assert.Equal(OperationType.Post, op.Verb);
            Assert.NotNull(op.Op.RequestBody);
            Assert.Equal("#/components/schemas/" + method.InputType.FullName, "#/components/schemas/" + op.Op.RequestBody.Content["application/json"].Schema.Reference.Id);
            Assert.True(op.Op.Responses.ContainsKey("200"), method.Name);
            Assert.True(op.Op.Responses.ContainsKey("default"), method.Name);
        }
        Assert.All(operations, o => Assert.Contains(methods, m => o.Op.OperationId == m.Name || o.Op.OperationId == m.Name + "Get"));
        Assert.Contains(operations, o => o.Op.OperationId == "GetClientCountByGroupGet" && o.Verb == OperationType.Get && o.Op.Parameters.Any(p => p.Name == "group"));
        Assert.Equal("bearer", document.Components.SecuritySchemes["bearer"].Scheme);
    }

    [Fact]
    public async Task OpenApiJson_EveryListedRoute_IsServedAndRefusesCallsWithoutCredentials()
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        using var http = new HttpClient { BaseAddress = fixture.Suite.Api };
        var document = new OpenApiStringReader().Read(await http.GetStringAsync("/openapi.json", ct), out _);

        foreach (var (path, item) in document.Paths)
        {
            foreach (var verb in item.Operations.Keys)
            {
                // Act
                using var request = new HttpRequestMessage(new HttpMethod(verb.ToString().ToUpperInvariant()), path);
                if (verb == OperationType.Post)
                {
                    request.Content = new StringContent("{}", new MediaTypeHeaderValue("application/json"));
                }
                using var response = await http.SendAsync(request, ct);

                // Assert: the route exists (no 404/405) and is guarded like the gRPC form.
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{verb} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
            }
        }
    }
}
