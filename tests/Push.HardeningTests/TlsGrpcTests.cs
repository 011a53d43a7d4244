using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Push.Control;
using Push.Testing;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// gRPC over mutual TLS: `push start` and a second gateway process, every gRPC port with a node certificate from a
/// private CA and client certificates required from that CA. Registration, worker streams and gateway-to-gateway calls
/// all run over https:// with the node certificate as client certificate.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TlsGrpcTests(ITestOutputHelper output)
{
    private static GrpcChannel Channel(Uri address, X509Certificate2 trust, X509Certificate2? clientCertificate)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, errors) => (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && TlsCertificates.ChainsTo(cert, trust),
                ClientCertificates = clientCertificate is null ? null : new X509CertificateCollection { clientCertificate },
            },
        };
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler });
    }

    [Fact]
    public async Task GrpcMutualTls_ClusterWorksAndCallersNeedACertificateFromTheCa()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        using var certs = TlsCertificates.Create();
        var (ca, caFile) = certs.Authority("push-ca");
        var (_, nodeCert, nodeKey) = certs.Signed("push-node", ca);
        var (op, opCert, opKey) = certs.Signed("operator", ca);
        var (rogueCa, _) = certs.Authority("rogue-ca");
        var (rogue, _, _) = certs.Signed("rogue", rogueCa);
        string[] tls = ["--grpc-tls-cert", nodeCert, "--grpc-tls-key", nodeKey, "--grpc-client-ca", caFile];

        await using var suite = await PushProcess.StartAsync("start", tls, cancellationToken: ct);
        Assert.Equal("https", suite.Grpc.Scheme);
        await using var gateway2 = await PushProcess.StartAsync("gateway", [.. tls, "--registry", suite.GrpcAddress], cancellationToken: ct);
        using var channel1 = Channel(suite.Grpc, ca, op);
        using var channel2 = Channel(gateway2.Grpc, ca, op);
        using var control1 = new PushControlClient(channel1.CreateCallInvoker(), new PushControlOptions { Secret = TestSecrets.Control });
        using var control2 = new PushControlClient(channel2.CreateCallInvoker(), new PushControlOptions { Secret = TestSecrets.Control });
        // Both gateways registered (https registry) and opened their worker stream (https worker) with client certificates.
        await AuthHelpers.WaitWorkerStreamsAsync(control1, gateways: 2, workers: 1, ct, () => suite.Output + "\n" + gateway2.Output);

        await using var ws = await TestWebSocket.ConnectAsync(gateway2.Ws, cancellationToken: ct);
        await control1.JoinGroupAsync(ws.ClientId, "tls-room", ct); // forwarded to gateway 2 over mTLS
        Assert.Equal(1, await control1.SendToGroupAsync("tls-room", "over mtls", ct)); // scattered over mTLS
        Assert.Equal("over mtls", await ws.ReceiveTextAsync(ct));

        // Callers without a certificate, with one from another CA, or in cleartext are refused at the TLS layer.
        using var anonymous = Channel(suite.Grpc, ca, null);
        using var rogueChannel = Channel(suite.Grpc, ca, rogue);
        using var cleartext = GrpcChannel.ForAddress(new UriBuilder(suite.Grpc) { Scheme = "http" }.Uri);
        foreach (var (name, ch) in new[] { ("no client certificate", anonymous), ("client certificate from another CA", rogueChannel), ("cleartext h2c", cleartext) })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => new PushControlClient(ch.CreateCallInvoker(), new PushControlOptions { Secret = TestSecrets.Control }).GetAllClientCountAsync(ct));
            output.WriteLine($"{name}: {ex.StatusCode}");
        }
        // And a caller that does not trust the private CA does not talk to the server.
        using var distrustful = Channel(suite.Grpc, rogueCa, op);
        await Assert.ThrowsAsync<RpcException>(() => new PushControlClient(distrustful.CreateCallInvoker(), new PushControlOptions { Secret = TestSecrets.Control }).GetAllClientCountAsync(ct));

        // The shell commands speak mTLS too.
        var (exit, stdout) = await CliRun.RunAsync(["status", "--grpc", suite.GrpcAddress, "--secret", TestSecrets.Control, "--tls-ca", caFile, "--tls-client-cert", opCert, "--tls-client-key", opKey], new Dictionary<string, string>(), ct);
        Assert.True(exit == 0, stdout);
        Assert.Contains("Gateways: 2", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrpcMutualTls_NodeCertificateRenewed_NewCallersGetIt_OpenChannelKeepsWorking()
    {
        // Arrange: `push start` over mTLS with node certificate one; an operator channel open over it.
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        using var certs = TlsCertificates.Create();
        var (ca, caFile) = certs.Authority("push-ca");
        var (one, nodeCert, nodeKey) = certs.Signed("push-node", ca);
        var (two, renewedCert, renewedKey) = certs.Signed("push-node-renewed", ca);
        var (op, _, _) = certs.Signed("operator", ca);
        await using var suite = await PushProcess.StartAsync("start", ["--grpc-tls-cert", nodeCert, "--grpc-tls-key", nodeKey, "--grpc-client-ca", caFile], cancellationToken: ct);
        using var open = Channel(suite.Grpc, ca, op);
        using var openControl = new PushControlClient(open.CreateCallInvoker(), new PushControlOptions { Secret = TestSecrets.Control });
        await AuthHelpers.WaitWorkerStreamsAsync(openControl, gateways: 1, workers: 1, ct, () => suite.Output);

        // Act: cert-manager renews the node certificate (each file replaced by a rename).
        File.Copy(renewedKey, nodeKey + ".new");
        File.Move(nodeKey + ".new", nodeKey, overwrite: true);
        File.Copy(renewedCert, nodeCert + ".new");
        File.Move(nodeCert + ".new", nodeCert, overwrite: true);
        string? presented = null;
        var attempts = 0;
        while (presented != two.Thumbprint)
        {
            // A new connection each time (a new handler), as a new caller makes; checked at most every 5 s by the server.
            attempts++;
            using var handler = new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = (_, cert, _, _) => (presented = (cert as X509Certificate2)?.Thumbprint) is not null && TlsCertificates.ChainsTo(cert, ca),
                    ClientCertificates = new X509CertificateCollection { op },
                },
            };
            using var probe = GrpcChannel.ForAddress(suite.Grpc, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = false });
            await new PushControlClient(probe.CreateCallInvoker(), new PushControlOptions { Secret = TestSecrets.Control }).GetAllClientCountAsync(ct);
            if (presented != two.Thumbprint)
            {
                await Task.Delay(250, ct); // pacing of the probes; the condition is the presented certificate
            }
        }
        await suite.WaitForOutputAsync("TLS certificate (grpc) reloaded", ct);

        // Assert: the channel opened before still works, and the gateway still has its worker stream (mTLS between the roles).
        Assert.NotEqual(one.Thumbprint, two.Thumbprint);
        Assert.Equal(0, await openControl.GetAllClientCountAsync(ct));
        await AuthHelpers.WaitWorkerStreamsAsync(openControl, gateways: 1, workers: 1, ct, () => suite.Output);
        output.WriteLine($"renewed gRPC certificate served after {attempts} probe connection(s)");
    }
}
