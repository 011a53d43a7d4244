using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Push.Hosting.Files;
using Push.Hosting.Security;

namespace Push.UnitTests;

public sealed class CertificateReloaderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("push-certs-").FullName;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static (string CertPem, string KeyPem, string Thumbprint) NewCertificate(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return (cert.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem(), cert.Thumbprint);
    }

    private static void Write(string file, string content)
    {
        var before = File.Exists(file) ? File.GetLastWriteTimeUtc(file) : DateTime.MinValue;
        File.WriteAllText(file, content);
        if (File.GetLastWriteTimeUtc(file) <= before)
        {
            File.SetLastWriteTimeUtc(file, before.AddSeconds(1)); // coarse file system clocks
        }
    }

    private CertificateReloader Reloader(string cert, string key) => new("ws", cert, key, _time, NullLogger.Instance, null, TimeSpan.FromSeconds(5));

    [Fact]
    public void Certificate_FilesReplaced_NewOneServedAfterTheInterval()
    {
        // Arrange
        var (cert1, key1, thumb1) = NewCertificate("one");
        var (cert2, key2, thumb2) = NewCertificate("two");
        var certFile = Path.Combine(_folder, "tls.crt");
        var keyFile = Path.Combine(_folder, "tls.key");
        Write(certFile, cert1);
        Write(keyFile, key1);
        var reloader = Reloader(certFile, keyFile);

        // Act
        Write(certFile, cert2);
        Write(keyFile, key2);
        var withinInterval = reloader.Certificate.Thumbprint;
        _time.Advance(TimeSpan.FromSeconds(5));
        var afterInterval = reloader.Certificate.Thumbprint;

        // Assert
        Assert.Equal(thumb1, withinInterval);
        Assert.Equal(thumb2, afterInterval);
        Assert.Equal(thumb2, reloader.Context.TargetCertificate.Thumbprint);
    }

    [Fact]
    public void Certificate_KeyDoesNotMatchOrFileMissing_PreviousKept_LaterFixPickedUp()
    {
        var (cert1, key1, thumb1) = NewCertificate("one");
        var (cert2, key2, thumb2) = NewCertificate("two");
        var certFile = Path.Combine(_folder, "tls.crt");
        var keyFile = Path.Combine(_folder, "tls.key");
        Write(certFile, cert1);
        Write(keyFile, key1);
        var reloader = Reloader(certFile, keyFile);

        Write(certFile, cert2); // the certificate is renewed, the key is not written yet
        _time.Advance(TimeSpan.FromSeconds(5));
        var mismatched = reloader.Certificate.Thumbprint;
        File.Delete(keyFile);
        _time.Advance(TimeSpan.FromSeconds(5));
        var missing = reloader.Certificate.Thumbprint;
        Write(keyFile, key2);
        _time.Advance(TimeSpan.FromSeconds(5));
        var fixedUp = reloader.Certificate.Thumbprint;

        Assert.Equal(thumb1, mismatched);
        Assert.Equal(thumb1, missing);
        Assert.Equal(thumb2, fixedUp);
    }

    [Fact]
    public void Certificate_KubernetesDataLinkSwapped_NewOneServed()
    {
        // Arrange: the layout of a mounted Secret: tls.crt -> ..data/tls.crt, ..data -> ..2026_01 (a timestamped folder).
        var (cert1, key1, thumb1) = NewCertificate("one");
        var (cert2, key2, thumb2) = NewCertificate("two");
        var v1 = Directory.CreateDirectory(Path.Combine(_folder, "..2026_01"));
        var v2 = Directory.CreateDirectory(Path.Combine(_folder, "..2026_02"));
        File.WriteAllText(Path.Combine(v1.FullName, "tls.crt"), cert1);
        File.WriteAllText(Path.Combine(v1.FullName, "tls.key"), key1);
        File.WriteAllText(Path.Combine(v2.FullName, "tls.crt"), cert2);
        File.WriteAllText(Path.Combine(v2.FullName, "tls.key"), key2);
        // Same times in both versions: only the links tell them apart.
        foreach (var f in Directory.GetFiles(v2.FullName))
        {
            File.SetLastWriteTimeUtc(f, File.GetLastWriteTimeUtc(Path.Combine(v1.FullName, Path.GetFileName(f))));
        }
        var data = Path.Combine(_folder, "..data");
        File.CreateSymbolicLink(data, "..2026_01");
        File.CreateSymbolicLink(Path.Combine(_folder, "tls.crt"), "..data/tls.crt");
        File.CreateSymbolicLink(Path.Combine(_folder, "tls.key"), "..data/tls.key");
        var reloader = Reloader(Path.Combine(_folder, "tls.crt"), Path.Combine(_folder, "tls.key"));

        // Act: kubelet points ..data at the new folder (it renames a new link over the old one; File.Move cannot move
        // a link to a folder, so it is replaced here, between two checks all the same).
        File.Delete(data);
        File.CreateSymbolicLink(data, "..2026_02");
        _time.Advance(TimeSpan.FromSeconds(5));

        // Assert
        Assert.NotEqual(thumb1, thumb2);
        Assert.Equal(thumb2, reloader.Certificate.Thumbprint);
        Assert.Equal(Path.Combine(v2.FullName, "tls.crt"), FileStamp.Resolve(Path.Combine(_folder, "tls.crt")));
    }

    [Fact]
    public void Certificate_Unchanged_FilesLookedAtOncePerInterval()
    {
        var (cert, key, _) = NewCertificate("one");
        var certFile = Path.Combine(_folder, "tls.crt");
        var keyFile = Path.Combine(_folder, "tls.key");
        Write(certFile, cert);
        Write(keyFile, key);
        var checks = 0;
        var reloader = new FileReloader<string>([certFile, keyFile], () => "loaded", _time, TimeSpan.FromSeconds(5), reloaded: _ => checks++);

        for (var i = 0; i < 1000; i++)
        {
            Assert.Equal("loaded", reloader.Current);
        }
        _time.Advance(TimeSpan.FromSeconds(5));
        for (var i = 0; i < 1000; i++)
        {
            Assert.Equal("loaded", reloader.Current);
        }

        Assert.Equal(1, reloader.Checks);
        Assert.Equal(0, checks); // nothing changed: nothing reloaded
    }

    [Fact]
    public void Create_UnreadableFilesAtStart_ArgumentExceptionNamingTheFlags()
    {
        var certFile = Path.Combine(_folder, "missing.crt");

        var ex = Assert.Throws<ArgumentException>(() => CertificateReloader.Create(
            new ServiceCollection()
                .AddSingleton<TimeProvider>(_time)
                .AddSingleton<Microsoft.Extensions.Logging.ILoggerFactory>(NullLoggerFactory.Instance)
                .BuildServiceProvider(),
            "ws", certFile, null, "--tls-cert/--tls-key"));

        Assert.StartsWith("cannot load --tls-cert/--tls-key:", ex.Message, StringComparison.Ordinal);
    }
}
