using Push.Gateway.Workers;
using Push.V1;

namespace Push.UnitTests.Workers;

/// <summary>At-least-once events to workers: acks, redelivery flagged and in order, event sequences. Fake streams and time.</summary>
public sealed class WorkerRedeliveryTests
{
    private static string Text(Event e) => e.Message?.Text ?? e.KindCase.ToString();

    [Fact]
    public async Task WorkerDies_ItsUnacknowledgedEventsMoveFlaggedRedelivered_BeforeTheUnwritten_KeepingTheirSequence()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var streams = await h.AddWorkersAsync(ct, "w1", "w2");
        foreach (var s in streams)
        {
            s.AutoAck = false;
        }
        var c = h.Connect();
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m1"), ct);
        var pinned = streams.Single(s => s.WorkerId == c.Worker!.WorkerId);
        var other = streams.Single(s => s != pinned);
        other.AutoAck = true;
        for (var i = 2; i <= 3; i++)
        {
            await h.Router.PostAsync(c, RouterHarness.Message(c, $"m{i}"), ct);
        }
        var written = await pinned.EventsAsync(3, ct);
        Assert.Equal([1UL, 2UL, 3UL], written.Select(e => e.Seq));
        Assert.All(written, e => Assert.False(e.Redelivered));
        pinned.Ack(1); // m1 handled
        await pinned.AckAppliedAsync(1, ct);
        Assert.Equal(2, h.Link(pinned.WorkerId).Queue.Unacked);
        pinned.HoldWrites();
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m4"), ct); // being written when the worker dies
        while ((await pinned.Started.Reader.ReadAsync(ct)).Events.All(e => Text(e) != "m4"))
        {
        }
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m5"), ct); // queued

        pinned.Fail();
        await h.UntilAsync(() => c.Worker?.WorkerId == other.WorkerId, ct);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m6"), ct);
        h.Router.PostClose(c, new Event { ClientId = c.ClientId, Close = new CloseEvent { Code = 1000 } });

        var moved = await other.EventsAsync(6, ct);
        Assert.Equal(["m2", "m3", "m4", "m5", "m6", "Close"], moved.Select(Text));
        Assert.Equal([2UL, 3UL, 4UL, 5UL, 6UL, 7UL], moved.Select(e => e.Seq));
        Assert.Equal([true, true, true, false, false, false], moved.Select(e => e.Redelivered));
        Assert.Equal(3, Interlocked.Read(ref h.Metrics.EventsRedelivered));
        Assert.Equal(0, h.Dropped);
    }

    [Fact]
    public async Task Ack_FreesTheBudget_AWorkerThatNeverAcksHoldsPostersBack()
    {
        var ct = RouterHarness.Timeout();
        const int Budget = 64 * 1024;
        await using var h = new RouterHarness(new Push.Gateway.GatewayOptions { WorkerQueueBytes = Budget });
        await h.StartAsync();
        var s = (await h.AddWorkersAsync(ct, "w1"))[0];
        s.AutoAck = false;
        var c = h.Connect();
        var link = h.Link("w1");

        ValueTask pending = default;
        var posted = 0;
        while (posted < 100)
        {
            pending = h.Router.PostAsync(c, RouterHarness.Message(c, 10 * 1024), ct);
            posted++;
            if (!pending.IsCompleted)
            {
                break;
            }
        }
        Assert.False(pending.IsCompleted, "events written and never acknowledged fill the budget");
        Assert.InRange(posted, 5, 8);
        await s.EventsAsync(posted - 1, ct); // every admitted event was written: only the ack is missing
        Assert.True(link.Queue.Bytes <= Budget);
        Assert.False(pending.IsCompleted);

        s.Ack(2);
        await pending.AsTask().WaitAsync(ct);
        Assert.Equal(0, h.Dropped);
    }

    [Fact]
    public async Task AnAckBeyondWhatWasWritten_IsIgnored()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var s = (await h.AddWorkersAsync(ct, "w1"))[0];
        s.AutoAck = false;
        var c = h.Connect();
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m1"), ct);
        await s.EventsAsync(1, ct);

        s.Ack(5);
        await s.AckAppliedAsync(5, ct);

        Assert.Equal(1, h.Link("w1").Queue.Unacked);
        Assert.Equal(0UL, h.Link("w1").Queue.Acked);
        s.Ack(1);
        await s.AckAppliedAsync(1, ct);
        Assert.Equal(0, h.Link("w1").Queue.Unacked);
    }

    [Fact]
    public async Task WorkerLeaves_WhatItDidNotAcknowledgeMovesAfterItsStreamEnds_InOrderWithWhatWasQueuedMeanwhile()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var streams = await h.AddWorkersAsync(ct, "w1", "w2");
        var c = h.Connect();
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m1"), ct);
        var pinned = streams.Single(s => s.WorkerId == c.Worker!.WorkerId);
        var other = streams.Single(s => s != pinned);
        pinned.AutoAck = false;
        await pinned.EventsAsync(1, ct);
        pinned.Ack(1);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m2"), ct);
        await pinned.EventsAsync(1, ct);

        h.RemoveWorker(pinned.WorkerId);
        await pinned.WhenHalfClosed.WaitAsync(ct);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m3"), ct); // its worker is leaving: it waits with the link
        Assert.Empty(other.Events());
        pinned.End(); // the leaving worker answered m1 only

        var moved = await other.EventsAsync(2, ct);
        Assert.Equal(["m2", "m3"], moved.Select(Text));
        Assert.Equal([true, false], moved.Select(e => e.Redelivered));
        Assert.Equal(other.WorkerId, c.Worker?.WorkerId);
        Assert.Equal(1, Interlocked.Read(ref h.Metrics.EventsRedelivered));
    }
}
