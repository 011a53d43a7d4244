using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Push.HardeningTests;

/// <summary>Throw-away certificates for the TLS tests, written as PEM files into a temporary folder.</summary>
internal sealed class TlsCertificates : IDisposable
{
    private TlsCertificates(string folder) => Folder = folder;

    public string Folder { get; }

    public static TlsCertificates Create() => new(Directory.CreateTempSubdirectory("push-tls-").FullName);

    /// <summary>A self-signed certificate for 127.0.0.1/localhost (server and client use); returns the cert and the PEM paths.</summary>
    public (X509Certificate2 Cert, string CertFile, string KeyFile) SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = Leaf(name, key);
        var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var (certFile, keyFile) = Write(name, cert, key);
        return (cert, certFile, keyFile);
    }

    /// <summary>
    /// A certificate authority (CA basic constraint), self-signed or, with <paramref name="issuer"/>, an intermediate
    /// signed by it; returns the cert (with key) and its PEM path.
    /// </summary>
    public (X509Certificate2 Cert, string CertFile) Authority(string name, X509Certificate2? issuer = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        X509Certificate2 cert;
        if (issuer is null)
        {
            cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        }
        else
        {
            using var signed = request.Create(issuer, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(20), RandomNumberGenerator.GetBytes(8));
            cert = signed.CopyWithPrivateKey(key);
        }
        var file = Path.Combine(Folder, name + ".crt");
        File.WriteAllText(file, cert.ExportCertificatePem());
        return (cert, file);
    }

    /// <summary>
    /// A leaf certificate for 127.0.0.1/localhost signed by <paramref name="authority"/>; returns the cert (with key) and
    /// the PEM paths. The certificate file ends with <paramref name="chain"/> (intermediates), as cert-manager writes it.
    /// </summary>
    public (X509Certificate2 Cert, string CertFile, string KeyFile) Signed(string name, X509Certificate2 authority, params X509Certificate2[] chain)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = Leaf(name, key);
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var signed = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(12), serial);
        var cert = signed.CopyWithPrivateKey(key);
        var (certFile, keyFile) = Write(name, cert, key);
        foreach (var c in chain)
        {
            File.AppendAllText(certFile, c.ExportCertificatePem() + "\n");
        }
        return (cert, certFile, keyFile);
    }

    /// <summary>True when <paramref name="certificate"/> chains to <paramref name="authority"/> (and nothing else).</summary>
    public static bool ChainsTo(X509Certificate? certificate, X509Certificate2 authority)
    {
        if (certificate is null)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate as X509Certificate2 ?? new X509Certificate2(certificate));
    }

    private static CertificateRequest Leaf(string name, ECDsa key)
    {
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        return request;
    }

    private (string CertFile, string KeyFile) Write(string name, X509Certificate2 cert, ECDsa key)
    {
        var certFile = Path.Combine(Folder, name + ".crt");
        var keyFile = Path.Combine(Folder, name + ".key");
        File.WriteAllText(certFile, cert.ExportCertificatePem() + "\n");
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certFile, keyFile);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
