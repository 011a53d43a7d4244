using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Push.Hosting.Security;

/// <summary>PEM certificates and keys for TLS on the gRPC port and for the internal clients, and chain checks against a private CA.</summary>
internal static class TlsFiles
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    /// <summary>Loads a certificate with its private key from PEM files (the key may be in the certificate file).</summary>
    public static X509Certificate2 LoadCertificate(string certFile, string? keyFile)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        // SslStream on Windows cannot use an ephemeral key: round-trip through PKCS#12 everywhere, it is cheap.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The certificates after the first one in a PEM certificate file (the intermediates a server must send).</summary>
    public static X509Certificate2Collection LoadIntermediates(string certFile)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(certFile);
        var rest = new X509Certificate2Collection();
        for (var i = 1; i < all.Count; i++)
        {
            rest.Add(all[i]);
        }
        return rest;
    }

    /// <summary>Loads every certificate of a PEM bundle (the trusted CAs).</summary>
    public static X509Certificate2Collection LoadBundle(string file)
    {
        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPemFile(file);
        if (bundle.Count == 0)
        {
            throw new CryptographicException($"no certificate in '{file}'");
        }
        return bundle;
    }

    /// <summary>True when <paramref name="certificate"/> chains to one of <paramref name="roots"/> and is valid for the purpose.</summary>
    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection roots, X509Chain? presented, bool client)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(client ? ClientAuth : ServerAuth);
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, certificate))
                {
                    chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }
        }
        return chain.Build(certificate);
    }

    /// <summary>The client side of TLS to the suite's https:// gRPC addresses (Cluster:TlsCa, Cluster:TlsClientCert).</summary>
    public static SslClientAuthenticationOptions? ClientOptions(ClusterOptions? cluster)
    {
        if (cluster is null || (string.IsNullOrEmpty(cluster.TlsCa) && string.IsNullOrEmpty(cluster.TlsClientCert)))
        {
            return null;
        }
        var ssl = new SslClientAuthenticationOptions();
        if (!string.IsNullOrEmpty(cluster.TlsCa))
        {
            var roots = LoadBundle(cluster.TlsCa);
            ssl.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                // The host name must match and a certificate must be there; the chain is judged against the private CA only.
                if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0 || certificate is null)
                {
                    return false;
                }
                return ChainsTo(certificate as X509Certificate2 ?? new X509Certificate2(certificate), roots, chain, client: false);
            };
        }
        if (!string.IsNullOrEmpty(cluster.TlsClientCert))
        {
            // Every TLS handshake presents the certificate of now: the files are followed like the server's (renewals).
            var client = ClientCertificate(cluster.TlsClientCert, string.IsNullOrEmpty(cluster.TlsClientKey) ? null : cluster.TlsClientKey);
            ssl.LocalCertificateSelectionCallback = (_, _, _, _, _) => client.Certificate;
        }
        return ssl;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Cert, string? Key), CertificateReloader> ClientCertificates = new();

    /// <summary>One reloader per client certificate of the process (all channels share it).</summary>
    private static CertificateReloader ClientCertificate(string certFile, string? keyFile)
        => ClientCertificates.GetOrAdd((certFile, keyFile), static k => new CertificateReloader("client", k.Cert, k.Key, TimeProvider.System, new ClientLog()));

    /// <summary>Where reloads of the internal clients' certificate are logged (set by the host once built).</summary>
    public static ILogger ClientLogger { get; set; } = NullLogger.Instance;

    /// <summary>Logs to <see cref="ClientLogger"/> as it is when a line is written (channels can be made before the host is built).</summary>
    private sealed class ClientLog : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => ClientLogger.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => ClientLogger.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => ClientLogger.Log(logLevel, eventId, state, exception, formatter);
    }
}
