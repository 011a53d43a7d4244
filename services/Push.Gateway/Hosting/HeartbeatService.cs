using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Push.Gateway.Connections;
using Push.Gateway.WebSockets;

namespace Push.Gateway.Hosting;

/// <summary>
/// One timer for every connection (no per-connection timers): sends pings to quiet clients, closes clients silent for
/// PingInterval x PingNotResponseLimit with 4000, aborts clients that do not finish a close within 3 seconds, and
/// releases idle send-queue arrays.
/// </summary>
internal sealed class HeartbeatService(ConnectionTable table, Resume.ResumeCoordinator resume, IOptions<GatewayOptions> options, TimeProvider time) : BackgroundService
{
    private const long CloseTimeoutMs = 3000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var intervalMs = (long)o.PingInterval.TotalMilliseconds;
        var tick = intervalMs > 0 ? TimeSpan.FromMilliseconds(Math.Clamp(intervalMs / 4, 50, 1000)) : TimeSpan.FromSeconds(1);
        var pingFrame = string.IsNullOrEmpty(o.PingData) ? OutboundFrame.Ping([]) : OutboundFrame.Text(o.PingData);
        // A push.v1 client's application messages are numbered: its pings are WebSocket pings, never PingData text.
        var v1Ping = OutboundFrame.Ping([]);
        using var timer = new PeriodicTimer(tick, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var now = Environment.TickCount64;
                resume.PruneMoved(now);
                foreach (var c in table.All)
                {
                    if (c.IsResumable && c.RoughState != ResumeState.Attached)
                    {
                        resume.Sweep(c, now); // no socket: its resume window and handoffs
                        continue;
                    }
                    var closing = Volatile.Read(ref c.ClosingSince);
                    if (closing != 0)
                    {
                        if (now - closing > CloseTimeoutMs)
                        {
                            c.Abort("close handshake timed out");
                        }
                        continue;
                    }
                    var quiet = now - Volatile.Read(ref c.LastActivity);
                    if (intervalMs > 0)
                    {
                        if (o.PingNotResponseLimit > 0 && quiet > intervalMs * o.PingNotResponseLimit)
                        {
                            c.Close(CloseCodes.HeartbeatTimeout, "heartbeat timeout");
                            continue;
                        }
                        if (quiet >= intervalMs && now - c.LastPing >= intervalMs)
                        {
                            c.LastPing = now;
                            c.Send(c.IsResumable ? v1Ping : pingFrame);
                        }
                    }
                    if (quiet > 5000)
                    {
                        c.TrimIfIdle();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
