using System.Diagnostics;
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
        var (exit, stdout) = await RunPushAsync(["status", "--grpc", suite.GrpcAddress, "--secret", TestSecrets.Control, "--tls-ca", caFile, "--tls-client-cert", opCert, "--tls-client-key", opKey], ct);
        Assert.True(exit == 0, stdout);
        Assert.Contains("Gateways: 2", stdout, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output)> RunPushAsync(IEnumerable<string> args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(RepoPaths.PushDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        try
        {
            await p.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        return (p.ExitCode, await stdout + await stderr);
    }
}
