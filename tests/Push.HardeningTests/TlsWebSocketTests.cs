using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

[Trait("Category", "Integration")]
public sealed class TlsWebSocketTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Wss_SelfSignedPemCertificate_ClientGetsGreeting()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        using var certs = TlsCertificates.Create();
        var (cert, certFile, keyFile) = certs.SelfSigned("push-wss");
        using var _ = cert;
        await using var suite = await AuthHelpers.StartSuiteAsync(["--tls-cert", certFile, "--tls-key", keyFile], ct);
        Assert.Equal("wss", suite.Ws.Scheme);

        X509Certificate? presented = null;
        await using var ws = await TestWebSocket.ConnectAsync(suite.Ws, configure: o => o.RemoteCertificateValidationCallback = (_, c, _, _) =>
        {
            presented = c;
            return c is not null && c.GetCertHashString() == cert.GetCertHashString();
        }, cancellationToken: ct);

        Assert.Equal(40, ws.ClientId.Length);
        Assert.NotNull(presented);
        await ws.SendTextAsync("over tls", ct);
        Assert.Equal("over tls", await ws.ReceiveTextAsync(ct));
        output.WriteLine($"wss handshake with {presented!.Subject}; greeting {ws.ClientId}");

        // The same port refuses a client that does not trust the certificate, and a cleartext ws:// client.
        var untrusted = new ClientWebSocket();
        await Assert.ThrowsAnyAsync<WebSocketException>(() => untrusted.ConnectAsync(suite.Ws, ct));
        untrusted.Dispose();
        var plain = new ClientWebSocket();
        await Assert.ThrowsAnyAsync<WebSocketException>(() => plain.ConnectAsync(new UriBuilder(suite.Ws) { Scheme = "ws" }.Uri, ct));
        plain.Dispose();
    }

    [Fact]
    public async Task Wss_CertificateFileWithIntermediate_ServesTheWholeChain()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        using var certs = TlsCertificates.Create();
        var (root, _) = certs.Authority("push-root");
        var (intermediate, _) = certs.Authority("push-intermediate", root);
        var (leaf, certFile, keyFile) = certs.Signed("push-wss-leaf", intermediate, intermediate);
        await using var suite = await AuthHelpers.StartSuiteAsync(["--tls-cert", certFile, "--tls-key", keyFile], ct);

        // The client knows only the root: the chain builds only if the server sent the intermediate.
        var sent = 0;
        await using var ws = await TestWebSocket.ConnectAsync(suite.Ws, configure: o => o.RemoteCertificateValidationCallback = (_, c, chain, _) =>
        {
            sent = chain?.ChainPolicy.ExtraStore.Count ?? 0;
            using var own = new X509Chain();
            own.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            own.ChainPolicy.CustomTrustStore.Add(root);
            own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (chain is not null)
            {
                own.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
            }
            return c is X509Certificate2 c2 && c2.Thumbprint == leaf.Thumbprint && own.Build(c2);
        }, cancellationToken: ct);

        Assert.Equal(40, ws.ClientId.Length);
        output.WriteLine($"certificates sent by the server: {sent} (leaf + intermediate)");
    }

    [Fact]
    public async Task Wss_CertificateFilesReplaced_NewConnectionGetsTheNewOne_OpenConnectionStays()
    {
        // Arrange: a running gateway serving certificate one; a client connected over it.
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        using var certs = TlsCertificates.Create();
        var (one, certFile, keyFile) = certs.SelfSigned("push-wss");
        var (two, twoCert, twoKey) = certs.SelfSigned("push-wss-renewed");
        using var _ = one;
        using var __ = two;
        await using var suite = await AuthHelpers.StartSuiteAsync(["--tls-cert", certFile, "--tls-key", keyFile], ct);
        string? Presented(X509Certificate? c) => c is X509Certificate2 c2 && (c2.Thumbprint == one.Thumbprint || c2.Thumbprint == two.Thumbprint) ? c2.Thumbprint : null;
        string? first = null;
        await using var open = await TestWebSocket.ConnectAsync(suite.Ws, configure: o => o.RemoteCertificateValidationCallback = (_, c, _, _) => (first = Presented(c)) is not null, cancellationToken: ct);

        // Act: the renewal lands as cert-manager and kubelet write it (each file replaced by a rename).
        File.Copy(twoKey, keyFile + ".new");
        File.Move(keyFile + ".new", keyFile, overwrite: true);
        File.Copy(twoCert, certFile + ".new");
        File.Move(certFile + ".new", certFile, overwrite: true);
        // The gateway looks at the files at most every 5 s, on a TLS handshake: new clients get the old certificate
        // until then, and the new one from the first handshake after.
        string? latest = null;
        var attempts = 0;
        while (latest != two.Thumbprint)
        {
            attempts++;
            await using var probe = await TestWebSocket.ConnectAsync(suite.Ws, configure: o => o.RemoteCertificateValidationCallback = (_, c, _, _) => (latest = Presented(c)) is not null, cancellationToken: ct);
            if (latest != two.Thumbprint)
            {
                await Task.Delay(250, ct); // pacing of the probes; the condition is the presented certificate
            }
        }
        await suite.WaitForOutputAsync("TLS certificate (ws) reloaded", ct);

        // Assert: the connection made before the renewal still works.
        Assert.Equal(one.Thumbprint, first);
        await open.SendTextAsync("still here", ct);
        Assert.Equal("still here", await open.ReceiveTextAsync(ct));
        output.WriteLine($"new certificate served after {attempts} probe connection(s)");
    }
}
