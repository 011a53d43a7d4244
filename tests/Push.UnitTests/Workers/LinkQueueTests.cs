using Push.Gateway.Workers;
using Push.V1;

namespace Push.UnitTests.Workers;

public sealed class LinkQueueTests
{
    private static Event E(string id) => new() { ClientId = id, Message = new MessageEvent { Text = id } };

    private static LinkQueue Open(long budget, int capacity = 1000)
    {
        var q = new LinkQueue(budget, capacity);
        q.Open();
        return q;
    }

    [Fact]
    public void Post_OverBudget_WaitsInLineUntilTheWorkerAcknowledges()
    {
        var q = Open(budget: 100);

        Assert.Equal(PostResult.Queued, q.Post(E("a"), 60, null, out var a));
        Assert.Equal(PostResult.Waiting, q.Post(E("b"), 60, null, out var b));
        // A small post does not overtake the waiting one.
        Assert.Equal(PostResult.Waiting, q.Post(E("c"), 10, null, out var c));

        Assert.True(a.IsCompletedSuccessfully);
        Assert.False(b.IsCompleted);
        Assert.Equal(60, q.Bytes);
        Assert.Equal(2, q.WaitingCount);

        var batch = new List<Event>();
        q.TakeBatch(batch, 256, 1 << 20);
        Assert.Equal(["a"], batch.Select(x => x.ClientId));
        Assert.Equal(60, q.Bytes); // in flight still counts
        Assert.False(b.IsCompleted);

        q.Written();
        Assert.Equal(60, q.Bytes); // written, not acknowledged: still held
        Assert.Equal(1, q.Unacked);
        Assert.False(b.IsCompleted);

        Assert.True(q.Ack(1));

        Assert.True(b.IsCompletedSuccessfully);
        Assert.True(c.IsCompletedSuccessfully);
        Assert.Equal(70, q.Bytes);
        Assert.Equal(0, q.WaitingCount);
        Assert.Equal(0, q.Unacked);
    }

    [Fact]
    public void Ack_IsCumulative_StaleAcksAreNoNews_AndAnAckBeyondWhatWasWrittenIsIgnored()
    {
        var q = Open(budget: 1000);
        foreach (var id in new[] { "a", "b", "c", "d" })
        {
            q.Post(E(id), 10, null, out _);
        }
        q.TakeBatch(new List<Event>(), 2, 1000); // a, b
        q.Written();
        q.TakeBatch(new List<Event>(), 2, 1000); // c, d
        q.Written();
        Assert.Equal(40, q.Bytes);

        Assert.True(q.Ack(3)); // across the two batches
        Assert.Equal(10, q.Bytes);
        Assert.Equal(3UL, q.Acked);
        Assert.True(q.Ack(2)); // older news: nothing changes
        Assert.Equal(10, q.Bytes);
        Assert.False(q.Ack(5)); // beyond the 4 written: ignored
        Assert.Equal(10, q.Bytes);
        Assert.Equal(1, q.Unacked);

        var left = q.Close(out var sent);
        Assert.Equal(["d"], left.Select(x => x.Event.ClientId));
        Assert.Equal(1, sent);
    }

    [Fact]
    public void Close_ReturnsTheUnacknowledgedThenTheUnwrittenBatchThenQueuedThenWaiting_FlaggingThoseSent()
    {
        var q = Open(budget: 100);
        q.Post(E("1"), 20, null, out _);
        q.Post(E("2"), 20, null, out _);
        q.TakeBatch(new List<Event>(), 256, 1000);
        q.Written();
        q.Ack(1); // "1" handled; "2" written, unacknowledged
        q.Post(E("3"), 20, null, out _);
        q.TakeBatch(new List<Event>(), 256, 1000); // "3" in flight when the stream ends
        q.Post(E("4"), 30, null, out _);
        q.Post(E("5"), 40, null, out var waiting);
        Assert.False(waiting.IsCompleted);

        var drained = q.Close(out var sent);

        Assert.Equal(["2", "3", "4", "5"], drained.Select(x => x.Event.ClientId));
        Assert.Equal(2, sent);
        Assert.Equal([true, true, false, false], drained.Select(x => x.Event.Redelivered));
        Assert.Equal(0, q.Bytes);
        Assert.Equal(0, q.Unacked);
    }

    [Fact]
    public void Ack_OfTheBatchBeingWritten_CountsBeforeTheWriteReturns()
    {
        var q = Open(budget: 1000);
        q.Post(E("a"), 10, null, out _);
        q.TakeBatch(new List<Event>(), 256, 1000);

        Assert.True(q.Ack(1)); // a fast worker answered before the gateway's write returned

        q.Written();
        Assert.Equal(0, q.Bytes);
        Assert.Empty(q.Close());
    }

    [Fact]
    public void Open_NumbersANewStreamFromOne()
    {
        var q = Open(budget: 1000);
        q.Post(E("a"), 10, null, out _);
        q.TakeBatch(new List<Event>(), 256, 1000);
        q.Written();
        q.Close();

        q.Open();
        q.Post(E("b"), 10, null, out _);
        q.TakeBatch(new List<Event>(), 256, 1000);
        q.Written();

        Assert.False(q.Ack(2)); // one event written on this stream
        Assert.True(q.Ack(1));
        Assert.Equal(0, q.Bytes);
    }

    [Fact]
    public void Post_LargerThanBudgetIntoEmptyQueue_IsAdmitted()
    {
        var q = Open(budget: 100);

        Assert.Equal(PostResult.Queued, q.Post(E("big"), 500, null, out _));
        Assert.Equal(PostResult.Waiting, q.Post(E("next"), 1, null, out _));
    }

    [Fact]
    public void Post_CountBound_AppliesBesideTheBytes()
    {
        var q = Open(budget: 1000, capacity: 2);

        Assert.Equal(PostResult.Queued, q.Post(E("a"), 1, null, out _));
        Assert.Equal(PostResult.Queued, q.Post(E("b"), 1, null, out _));
        Assert.Equal(PostResult.Waiting, q.Post(E("c"), 1, null, out _));
    }

    [Fact]
    public void TakeBatch_CapsBytes_AndAnEventAboveTheCapGoesAlone()
    {
        var q = Open(budget: 10_000);
        foreach (var (id, size) in new[] { ("a", 30), ("b", 30), ("c", 50), ("d", 200), ("e", 10) })
        {
            q.Post(E(id), size, null, out _);
        }
        var batches = new List<string[]>();
        while (q.Count > 0)
        {
            var batch = new List<Event>();
            var bytes = q.TakeBatch(batch, 256, maxBytes: 100);
            Assert.True(bytes <= 100 || batch.Count == 1, $"batch of {bytes} bytes with {batch.Count} events");
            batches.Add([.. batch.Select(x => x.ClientId)]);
            q.Written();
            q.Ack(q.Acked + (ulong)batch.Count);
        }

        Assert.Equal([["a", "b"], ["c"], ["d"], ["e"]], batches);
    }

    [Fact]
    public void TakeBatch_CapsCount()
    {
        var q = Open(budget: 10_000);
        for (var i = 0; i < 5; i++)
        {
            q.Post(E($"e{i}"), 1, null, out _);
        }
        var batch = new List<Event>();

        q.TakeBatch(batch, maxCount: 3, maxBytes: 1000);

        Assert.Equal(3, batch.Count);
    }

    [Fact]
    public void Close_ReturnsTheUnwrittenBatchThenQueuedThenWaiting_AndRefusesLaterPosts()
    {
        var q = Open(budget: 100);
        q.Post(E("1"), 50, null, out _);
        q.TakeBatch(new List<Event>(), 256, 1000); // "1" in flight, never written
        q.Post(E("2"), 40, null, out _);
        q.Post(E("3"), 40, null, out var waiting);

        var drained = q.Close();

        Assert.Equal(["1", "2", "3"], drained.Select(x => x.Event.ClientId));
        Assert.NotNull(drained[2].Admitted);
        Assert.False(waiting.IsCompleted); // completed by whoever moves the events
        Assert.Equal(0, q.Bytes);
        Assert.Equal(PostResult.Closed, q.Post(E("late"), 1, null, out var late));
        Assert.True(late.IsCompleted);
        Assert.Empty(q.Close());
    }

    [Fact]
    public async Task WaitToReadAsync_WakesOnPost_AndReturnsFalseOnClose()
    {
        var q = Open(budget: 100);
        var ct = RouterHarness.Timeout();

        var wait = q.WaitToReadAsync(ct).AsTask();
        Assert.False(wait.IsCompleted);
        q.Post(E("a"), 1, null, out _);
        Assert.True(await wait);

        q.TakeBatch(new List<Event>(), 256, 1000);
        q.Written();
        var closed = q.WaitToReadAsync(ct).AsTask();
        q.Close();
        Assert.False(await closed);
    }
}
