using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Push.Registry.Membership;

namespace Push.Registry.Hosting;

/// <summary>Drops members whose lease lapsed, ten times a second.</summary>
internal sealed partial class LeaseSweeperService(MemberTable table, TimeProvider time, ILogger<LeaseSweeperService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var id in table.Sweep())
                {
                    Log.LeaseLapsed(logger, id);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2001, LogLevel.Information, "Member {MemberId} dropped: its lease lapsed.", EventName = "LeaseLapsed")]
        public static partial void LeaseLapsed(ILogger logger, string memberId);
    }
}
