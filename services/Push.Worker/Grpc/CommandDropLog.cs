using Microsoft.Extensions.Logging;

namespace Push.Worker.Grpc;

/// <summary>
/// Warns about commands dropped for one reason on one stream without flooding the log: the first drop is reported at
/// once, later ones at most every <see cref="Interval"/> (with their count), the rest by <see cref="Flush"/>.
/// </summary>
internal sealed partial class CommandDropLog(ILogger logger, TimeProvider time, string reason)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Lock _sync = new();
    private long _lastReport;
    private bool _reported;
    private int _pending;

    public void Dropped(string gatewayId)
    {
        int count;
        lock (_sync)
        {
            _pending++;
            var now = time.GetTimestamp();
            if (_reported && time.GetElapsedTime(_lastReport, now) < Interval)
            {
                return;
            }
            _reported = true;
            _lastReport = now;
            count = _pending;
            _pending = 0;
        }
        Log.CommandsDropped(logger, count, gatewayId, reason);
    }

    /// <summary>Reports the drops not reported yet.</summary>
    public void Flush(string gatewayId)
    {
        int count;
        lock (_sync)
        {
            count = _pending;
            _pending = 0;
        }
        if (count > 0)
        {
            Log.CommandsDropped(logger, count, gatewayId, reason);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(4006, LogLevel.Warning, "{Count} command(s) for clients of gateway {GatewayId} were dropped ({Reason}); see push.worker.commands.dropped.", EventName = "CommandsDropped")]
        public static partial void CommandsDropped(ILogger logger, int count, string gatewayId, string reason);
    }
}
