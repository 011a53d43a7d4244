using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace Push.Testing;

/// <summary>
/// The live managed heap of another .NET process after a full blocking GC that this helper induces, the way
/// dotnet-gcdump does: an EventPipe session enabling the runtime provider's GCHeapCollect keyword. Unlike RSS it does
/// not depend on the GC's budgets (gen0 scales with the CPU cache), the allocator's retention or the thread count,
/// so a bound on it holds on any machine.
/// </summary>
public static class ManagedHeap
{
    private const long GcKeyword = 0x1;
    private const long GcHeapCollectKeyword = 0x800000;

    /// <summary>Bytes that survived the induced gen2 GC of process <paramref name="pid"/> (its GCHeapStats event).</summary>
    public static async Task<long> LiveBytesAfterFullGcAsync(int pid, CancellationToken ct)
    {
        var client = new DiagnosticsClient(pid);
        var providers = new[] { new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, GcKeyword | GcHeapCollectKeyword) };
        using var session = await client.StartEventPipeSessionAsync(providers, requestRundown: false, circularBufferMB: 16, ct).ConfigureAwait(false);
        var live = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var processing = Task.Run(() =>
        {
            try
            {
                using var source = new EventPipeEventSource(session.EventStream);
                var gen2 = false;
                source.Clr.GCStart += d => gen2 |= d.Depth == 2;
                source.Clr.GCHeapStats += d =>
                {
                    if (gen2)
                    {
                        live.TrySetResult(d.TotalPromotedSize0 + d.TotalPromotedSize1 + d.TotalPromotedSize2 + d.TotalPromotedSize3 + d.TotalPromotedSize4);
                    }
                };
                source.Process();
            }
            catch (Exception ex) when (ex is IOException or EndOfStreamException or ObjectDisposedException or InvalidOperationException or FormatException)
            {
                live.TrySetException(ex);
            }
            live.TrySetException(new InvalidOperationException($"the EventPipe session of process {pid} ended without a gen2 GCHeapStats event"));
        }, CancellationToken.None);
        try
        {
            return await live.Task.WaitAsync(TimeSpan.FromSeconds(20), ct).ConfigureAwait(false);
        }
        finally
        {
            await session.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await processing.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Mebibytes, for messages.</summary>
    public static string MiB(long bytes) => (bytes / (1024.0 * 1024)).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + " MiB";
}
