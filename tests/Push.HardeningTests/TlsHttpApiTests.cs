using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// The HTTP/JSON API (--api) follows the gRPC port's TLS: with --grpc-tls-cert and --grpc-client-ca it serves https with
/// the node certificate (HTTP/1.1 and h2 by ALPN) and requires a client certificate from the CA, so turning the API on never opens a cleartext or
/// certificate-less way around the gRPC port's protection.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TlsHttpApiTests(ITestOutputHelper output)
{
    [Fact]
    public async Task HttpApi_WithGrpcMutualTls_ServesHttpsAndRequiresAClientCertificate()
    {
        // Arrange
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        using var certs = TlsCertificates.Create();
        var (ca, caFile) = certs.Authority("push-ca");
        var (_, nodeCert, nodeKey) = certs.Signed("push-node", ca);
        var (op, _, _) = certs.Signed("operator", ca);
        await using var suite = await PushProcess.StartAsync("start", ["--grpc-tls-cert", nodeCert, "--grpc-tls-key", nodeKey, "--grpc-client-ca", caFile], cancellationToken: ct);
        var api = suite.Api!;
        using var trusted = Client(api, ca, op);
        using var anonymous = Client(api, ca, null);
        using var cleartext = new HttpClient { BaseAddress = new UriBuilder(api) { Scheme = "http" }.Uri, Timeout = TimeSpan.FromSeconds(10) };

        // Act
        using var ok = await trusted.PostAsync("/v1/get-all-client-count", Json(), ct);
        using var overH2 = await trusted.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/get-all-client-count") { Content = Json(), Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact }, ct);
        var noCertificate = await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.PostAsync("/v1/get-all-client-count", Json(), ct));
        var plain = await Assert.ThrowsAsync<HttpRequestException>(() => cleartext.PostAsync("/v1/get-all-client-count", Json(), ct));

        // Assert
        Assert.Equal("https", api.Scheme);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpVersion.Version11, ok.Version);
        Assert.True(overH2.StatusCode == HttpStatusCode.OK, $"h2 (ALPN): {(int)overH2.StatusCode} {await overH2.Content.ReadAsStringAsync(ct)}");
        Assert.Equal(HttpVersion.Version20, overH2.Version);
        Assert.Contains("\"count\":", await ok.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        output.WriteLine($"no client certificate: {noCertificate.Message}\ncleartext: {plain.Message}");
    }

    private static StringContent Json() => new("{}", Encoding.UTF8, "application/json");

    private static HttpClient Client(Uri api, X509Certificate2 trust, X509Certificate2? clientCertificate)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, errors) => (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && TlsCertificates.ChainsTo(cert, trust),
                ClientCertificates = clientCertificate is null ? null : new X509CertificateCollection { clientCertificate },
            },
        };
        var http = new HttpClient(handler) { BaseAddress = api, Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestSecrets.Control);
        return http;
    }
}
