using System.ComponentModel.DataAnnotations;

namespace Push.Worker;

/// <summary>Business worker settings (section "Worker", env Worker__Name).</summary>
public sealed class WorkerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Worker";

    /// <summary>Clients of one gateway handled concurrently (events of one client stay in order). Defaults to 16.</summary>
    [Range(1, 1024)]
    public int Concurrency { get; set; } = 16;

    /// <summary>Events queued per lane, and commands queued per gateway stream, before reading waits. Defaults to 4,096.</summary>
    [Range(16, 1_000_000)]
    public int QueueCapacity { get; set; } = 4096;

    /// <summary>
    /// Bytes of events queued in the lanes of one gateway stream before the worker stops reading it (an event larger
    /// than this is still taken when the lanes are empty). Defaults to 16 MiB.
    /// </summary>
    [Range(64 * 1024, 1L << 30)]
    public long EventQueueBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// Bytes of commands queued per gateway stream before callbacks wait to hand over theirs (a single command larger
    /// than this still goes, alone). Defaults to 16 MiB.
    /// </summary>
    [Range(64 * 1024, 1L << 30)]
    public long CommandQueueBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// Largest message of commands sent to a gateway, at most the 4 MiB the gateway's receive limit (8 MiB) leaves
    /// room for: a single command larger than this still goes, alone; one larger than the receive limit is dropped and
    /// counted (push.worker.commands.dropped, too_large). Defaults to 4 MiB.
    /// </summary>
    [Range(16 * 1024, Push.Hosting.GrpcLimits.StreamBatchBytes)]
    public int CommandBatchBytes { get; set; } = Push.Hosting.GrpcLimits.StreamBatchBytes;

    /// <summary>Time gateways get, when the worker stops, to stop sending and collect the answers to the events it has. Defaults to 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
