using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Push.Hosting.Files;

namespace Push.Hosting.Security;

/// <summary>
/// A server certificate (PEM certificate + key, the certificate file may hold the intermediates) that follows its
/// files: cert-manager renewals and Kubernetes Secret updates (a swapped <c>..data</c> link) are picked up by new TLS
/// connections within <see cref="DefaultInterval"/>, open connections keep theirs. New files that cannot be loaded
/// (missing, unreadable, key not matching the certificate) leave the previous certificate in use, logged and counted.
/// </summary>
internal sealed partial class CertificateReloader
{
    /// <summary>How often the files are looked at (on a TLS handshake, never more often).</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(5);

    private readonly FileReloader<ServedCertificate> _files;

    /// <summary>Loads the certificate now (throws when it cannot: the process should not start without it).</summary>
    public CertificateReloader(string endpoint, string certFile, string? keyFile, TimeProvider time, ILogger logger, TlsMetrics? metrics = null, TimeSpan? interval = null)
    {
        _files = new FileReloader<ServedCertificate>(
            keyFile is null ? [certFile] : [certFile, keyFile],
            () => ServedCertificate.Load(certFile, keyFile),
            time,
            interval ?? DefaultInterval,
            reloaded: c =>
            {
                Reloaded(logger, endpoint, certFile, c.Certificate.Subject, c.Certificate.NotAfter.ToUniversalTime(), c.Certificate.Thumbprint);
                metrics?.CertificateReload(endpoint, "reloaded");
            },
            failed: ex =>
            {
                ReloadFailed(logger, endpoint, certFile, ex.Message);
                metrics?.CertificateReload(endpoint, "failed");
            });
    }

    /// <summary>
    /// The reloader of one port's certificate with the host's clock, logger and metrics; a certificate that cannot be
    /// loaded at start is an <see cref="ArgumentException"/> naming <paramref name="flags"/> (exit code 2).
    /// </summary>
    public static CertificateReloader Create(IServiceProvider services, string endpoint, string certFile, string? keyFile, string flags)
    {
        try
        {
            return new CertificateReloader(endpoint, certFile, keyFile, services.GetRequiredService<TimeProvider>(),
                services.GetRequiredService<ILoggerFactory>().CreateLogger<CertificateReloader>(), services.GetService<TlsMetrics>());
        }
        catch (Exception ex) when (FileReloader<object>.IsLoadFailure(ex) && ex is not ArgumentException)
        {
            throw new ArgumentException($"cannot load {flags}: {ex.Message}", ex);
        }
    }

    /// <summary>The certificate with its chain, for <see cref="SslServerAuthenticationOptions.ServerCertificateContext"/>.</summary>
    public SslStreamCertificateContext Context => _files.Current.Context;

    /// <summary>The leaf certificate served now.</summary>
    public X509Certificate2 Certificate => _files.Current.Certificate;

    /// <summary>Looks at the files now (tests).</summary>
    internal bool CheckNow() => _files.CheckNow();

    [LoggerMessage(5001, LogLevel.Information, "TLS certificate ({Endpoint}) reloaded from {CertFile}: {Subject}, valid until {NotAfter:u}, thumbprint {Thumbprint}.", EventName = "CertificateReloaded")]
    private static partial void Reloaded(ILogger logger, string endpoint, string certFile, string subject, DateTime notAfter, string thumbprint);

    [LoggerMessage(5002, LogLevel.Warning, "TLS certificate ({Endpoint}) not reloaded from {CertFile}: {Error} The previous certificate stays in use.", EventName = "CertificateReloadFailed")]
    private static partial void ReloadFailed(ILogger logger, string endpoint, string certFile, string error);

    private sealed record ServedCertificate(X509Certificate2 Certificate, SslStreamCertificateContext Context)
    {
        public static ServedCertificate Load(string certFile, string? keyFile)
        {
            var certificate = TlsFiles.LoadCertificate(certFile, keyFile);
            // The chain is built once per version of the files (offline: the intermediates come from the file only).
            var context = SslStreamCertificateContext.Create(certificate, TlsFiles.LoadIntermediates(certFile), offline: true);
            return new(certificate, context);
        }
    }
}
