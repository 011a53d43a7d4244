using Push.Gateway;
using Push.Gateway.Connections;
using Push.Gateway.WebSockets;

namespace Push.UnitTests;

/// <summary>Limits that contradict each other are refused at start; a frame within limits always fits an empty queue.</summary>
public sealed class GatewayLimitsTests : IDisposable
{
    private readonly TableHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Defaults_AreConsistent()
    {
        Assert.True(new GatewayOptionsValidator().Validate(null, new GatewayOptions()).Succeeded);
    }

    [Fact]
    public void MaxPushSizePlusHeader_AboveSendQueueBytes_IsRefusedNamingBothSettings()
    {
        var r = new GatewayOptionsValidator().Validate(null, new GatewayOptions { SendQueueBytes = 1024 * 1024 });

        Assert.True(r.Failed);
        var message = Assert.Single(r.Failures!);
        Assert.Contains("Gateway:MaxPushSize (1048576) + 10-byte frame header > Gateway:SendQueueBytes (1048576)", message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void WorkerQueueBytes_BelowTheLargestEvent_IsRefused()
    {
        var r = new GatewayOptionsValidator().Validate(null, new GatewayOptions { MaxMessageSize = 1024 * 1024, WorkerQueueBytes = 1024 * 1024 });

        Assert.Contains(r.Failures!, f => f.Contains("Gateway:WorkerQueueBytes (1048576)", StringComparison.Ordinal) && f.Contains("Gateway:MaxMessageSize", StringComparison.Ordinal));
    }

    [Fact]
    public void PushOfMaxPushSize_WithDefaultLimits_IsQueuedIntoAnEmptyQueue()
    {
        var c = _h.Connect();

        Assert.Equal(SendResult.Queued, c.TrySend(OutboundFrame.Binary(new byte[_h.Options.MaxPushSize]), inline: false));
    }

    [Fact]
    public void FullQueue_UnderClosePolicy_IsQueueFull_ThenClosing()
    {
        _h.Options.SendQueueLimit = 2;
        var c = _h.Connect();
        // Nobody reads the client's pipe: once 64 KiB are unread its flush waits, so the queue fills.
        var f = OutboundFrame.Binary(new byte[40 * 1024]);
        var r = SendResult.Queued;
        for (var i = 0; i < 20 && r == SendResult.Queued; i++)
        {
            r = c.TrySend(f, inline: false);
        }

        Assert.Equal(SendResult.QueueFull, r);
        Assert.Equal(SendResult.Closing, c.TrySend(f));
    }
}
