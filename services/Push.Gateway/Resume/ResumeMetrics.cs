using System.Diagnostics.Metrics;
using Push.Gateway.Connections;

namespace Push.Gateway.Resume;

/// <summary>Instruments of resumable connections (Meter "Push.Gateway").</summary>
internal sealed class ResumeMetrics
{
    private readonly Counter<long> _resumes;
    private readonly Counter<long> _detached;
    private readonly Counter<long> _ended;
    private readonly Counter<long> _handoffs;

    public ResumeMetrics(IMeterFactory factory, ResumeBudget budget, ConnectionTable table)
    {
        var meter = factory.Create(Diagnostics.GatewayMetrics.MeterName);
        _resumes = meter.CreateCounter<long>("push.gateway.resumes", "{resume}", "Resume attempts of push.v1 clients, by result (resumed, moved_in, and the resume_failed reasons).");
        _detached = meter.CreateCounter<long>("push.gateway.connections.detached", "{connection}", "Resumable connections whose socket dropped and that wait for a resume, by close reason.");
        _ended = meter.CreateCounter<long>("push.gateway.connections.resume_ended", "{connection}", "Resumable connections that ended without a resume, by reason (window_over, overflow, drained).");
        _handoffs = meter.CreateCounter<long>("push.gateway.handoffs", "{handoff}", "Connections handed over to another gateway (out) by result.");
        meter.CreateObservableGauge("push.gateway.resume.retained_bytes", () => budget.Bytes, "By", "Bytes resumable connections keep until acknowledged (bounded by Gateway:ResumeBudgetBytes).");
        meter.CreateObservableGauge("push.gateway.connections.waiting_resume", () => table.All.Count(c => c.IsResumable && c.RoughState is ResumeState.Detached or ResumeState.Moving), "{connection}", "Resumable connections without a socket, waiting for a resume.");
    }

    public void Resume(string result) => _resumes.Add(1, new KeyValuePair<string, object?>("result", result));

    public void Detached(int code) => _detached.Add(1, new KeyValuePair<string, object?>("code", code));

    public void Ended(string reason) => _ended.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Handoff(string result) => _handoffs.Add(1, new KeyValuePair<string, object?>("result", result));
}
