using System.Runtime;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Push.Gateway.Hosting;

/// <summary>
/// When an idle gateway should give free GC memory back: for <see cref="QuietTicks"/> ticks the process allocated
/// less than <see cref="QuietBytesPerTick"/> a tick (so no GC will come by itself to decommit anything), the GC memory
/// beyond the live heap (committed but free after the last GC, plus what was allocated since it) is at least
/// Gateway:MemoryTrimMinMiB and a quarter of the heap, and the last trim is <see cref="MinInterval"/> old. Pure: the
/// caller supplies the GC figures and the time.
/// </summary>
internal sealed class MemoryTrimPolicy(long minSurplusBytes)
{
    /// <summary>Quiet ticks before a trim (the trimmer ticks once a second).</summary>
    public const int QuietTicks = 5;

    /// <summary>Allocation per tick below which a tick is quiet (heartbeats and status reports allocate a little).</summary>
    public const long QuietBytesPerTick = 1 << 20;

    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(10);

    private long _lastAllocated = -1;
    private long _allocatedAtGc;
    private int _lastGcCount = -1;
    private int _quiet;
    private TimeSpan? _lastTrim;

    /// <summary>
    /// One tick: bytes allocated so far, the number of GCs so far, the GC's committed bytes and heap size after the
    /// last GC, the time; true when a trim should run now.
    /// </summary>
    public bool Tick(long allocatedBytes, int gcCount, long committedBytes, long heapBytes, TimeSpan now)
    {
        if (gcCount != _lastGcCount)
        {
            _lastGcCount = gcCount;
            _allocatedAtGc = _lastAllocated < 0 ? allocatedBytes : _lastAllocated;
        }
        _quiet = _lastAllocated >= 0 && allocatedBytes - _lastAllocated < QuietBytesPerTick ? _quiet + 1 : 0;
        _lastAllocated = allocatedBytes;
        long surplus = committedBytes - heapBytes + (allocatedBytes - _allocatedAtGc);
        if (minSurplusBytes <= 0 || _quiet < QuietTicks || surplus < minSurplusBytes || surplus < heapBytes / 4)
        {
            return false;
        }
        if (_lastTrim is { } t && now - t < MinInterval)
        {
            return false;
        }
        _lastTrim = now;
        _quiet = 0;
        _allocatedAtGc = allocatedBytes;
        return true;
    }
}

/// <summary>
/// An idle gateway allocates nothing, so after a burst of connections no GC runs again: the free regions the GC kept
/// for the burst's allocation rate stay committed and resident for good (about 3 KiB per connection of a
/// 10,000-connection burst, docs/memory.md). When the process has allocated next to nothing for a few seconds and
/// holds such a surplus (<see cref="MemoryTrimPolicy"/>), this runs one compacting full GC that decommits it
/// (<see cref="GCCollectionMode.Aggressive"/>): a pause of tens of ms per 10,000 connections, only while idle. Then
/// glibc's malloc arenas give their free memory back too (<see cref="NativeHeap.Trim"/>).
/// </summary>
internal sealed partial class MemoryTrimmer(IOptions<GatewayOptions> options, TimeProvider time, ILogger<MemoryTrimmer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long minSurplus = (long)options.Value.MemoryTrimMinMiB << 20;
        if (minSurplus <= 0)
        {
            return;
        }
        var policy = new MemoryTrimPolicy(minSurplus);
        var started = time.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var info = GC.GetGCMemoryInfo();
                if (policy.Tick(GC.GetTotalAllocatedBytes(), GC.CollectionCount(0), info.TotalCommittedBytes, info.HeapSizeBytes, time.GetElapsedTime(started)))
                {
                    Trim(info);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Trim(GCMemoryInfo before)
    {
        long start = time.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var pause = time.GetElapsedTime(start);
        NativeHeap.Trim();
        var after = GC.GetGCMemoryInfo();
        Trimmed(logger, before.TotalCommittedBytes >> 20, after.TotalCommittedBytes >> 20, after.HeapSizeBytes >> 20, pause.TotalMilliseconds);
    }

    [LoggerMessage(3503, LogLevel.Information, "Idle: a compacting GC gave free memory back (GC committed {BeforeMiB} MiB -> {AfterMiB} MiB, heap {HeapMiB} MiB, paused {PauseMs:0} ms).", EventName = "MemoryTrimmed")]
    private static partial void Trimmed(ILogger logger, long beforeMiB, long afterMiB, long heapMiB, double pauseMs);
}
