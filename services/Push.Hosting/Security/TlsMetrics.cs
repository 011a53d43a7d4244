using System.Diagnostics.Metrics;

namespace Push.Hosting.Security;

/// <summary>TLS instruments of every role (Meter "Push.Security", shared with the gRPC authentication counters).</summary>
internal sealed class TlsMetrics
{
    public const string MeterName = "Push.Security";

    private readonly Counter<long> _reloads;

    public TlsMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(MeterName);
        _reloads = meter.CreateCounter<long>("push.tls.certificate.reloads", "{reload}", "Server certificate files that changed, by port and result (reloaded, failed: the previous certificate stays).");
    }

    public void CertificateReload(string endpoint, string result)
        => _reloads.Add(1, new KeyValuePair<string, object?>("push.endpoint", endpoint), new KeyValuePair<string, object?>("push.result", result));
}
