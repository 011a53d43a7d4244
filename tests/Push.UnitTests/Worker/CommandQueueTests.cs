using Microsoft.Extensions.Time.Testing;
using Push.V1;
using Push.Worker.Grpc;
using Push.Worker.Hosting;

namespace Push.UnitTests.Worker;

public sealed class CommandQueueTests
{
    private static Command Text(int length) => new() { ClientId = "c", Send = new SendCommand { Text = new string('x', length) } };

    [Fact]
    public async Task WriteAsync_WaitsForBytes_ThenAdmitsInOrder()
    {
        var one = Text(1000);
        var size = CommandQueue.EncodedSize(one);
        var queue = new CommandQueue(capacity: 4096, byteBudget: size * 3, maxCommandBytes: int.MaxValue);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(CommandAdmission.Queued, await queue.WriteAsync(Text(1000), CancellationToken.None));
        }
        var fourth = queue.WriteAsync(Text(1000), CancellationToken.None).AsTask();
        var fifth = queue.WriteAsync(Text(10), CancellationToken.None).AsTask(); // small, but behind the fourth
        Assert.False(fourth.IsCompleted);
        Assert.False(fifth.IsCompleted);
        Assert.Equal(CommandAdmission.Full, queue.TryWrite(Text(1)));

        var batch = new StreamEventsResponse();
        queue.ReadBatch(batch.Commands, 2, long.MaxValue);
        Assert.Equal(CommandAdmission.Queued, await fourth.WaitAsync(TestTimeouts.Short));
        Assert.Equal(CommandAdmission.Queued, await fifth.WaitAsync(TestTimeouts.Short));
        Assert.Equal(3, queue.Count);
    }

    [Fact]
    public async Task WriteAsync_CommandLargerThanTheBudget_GoesIntoAnEmptyQueue()
    {
        var queue = new CommandQueue(capacity: 16, byteBudget: 1024, maxCommandBytes: int.MaxValue);
        Assert.Equal(CommandAdmission.Queued, await queue.WriteAsync(Text(4096), CancellationToken.None));
        var next = queue.WriteAsync(Text(10), CancellationToken.None).AsTask();
        Assert.False(next.IsCompleted);
        var batch = new StreamEventsResponse();
        queue.ReadBatch(batch.Commands, 256, 100);
        Assert.Single(batch.Commands); // alone, above the batch cap
        Assert.Equal(CommandAdmission.Queued, await next.WaitAsync(TestTimeouts.Short));
    }

    [Fact]
    public async Task WriteAsync_CountBound_AndCancelledWaiterLetsTheNextIn()
    {
        var queue = new CommandQueue(capacity: 16, byteBudget: long.MaxValue, maxCommandBytes: int.MaxValue);
        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(CommandAdmission.Queued, queue.TryWrite(Text(1)));
        }
        using var cts = new CancellationTokenSource();
        var cancelled = queue.WriteAsync(Text(1), cts.Token).AsTask();
        var next = queue.WriteAsync(Text(1), CancellationToken.None).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        var batch = new StreamEventsResponse();
        queue.ReadBatch(batch.Commands, 1, long.MaxValue);
        Assert.Equal(CommandAdmission.Queued, await next.WaitAsync(TestTimeouts.Short));
        Assert.Equal(16, queue.Count);
    }

    [Fact]
    public async Task Complete_RefusesWaitersAndWriters_ReaderDrainsWhatIsQueued()
    {
        var queue = new CommandQueue(capacity: 16, byteBudget: long.MaxValue, maxCommandBytes: int.MaxValue);
        for (var i = 0; i < 16; i++)
        {
            queue.TryWrite(Text(1));
        }
        var waiting = queue.WriteAsync(Text(1), CancellationToken.None).AsTask();
        queue.Complete();
        Assert.Equal(CommandAdmission.Closed, await waiting.WaitAsync(TestTimeouts.Short));
        Assert.Equal(CommandAdmission.Closed, queue.TryWrite(Text(1)));
        Assert.Equal(CommandAdmission.Closed, await queue.WriteAsync(Text(1), CancellationToken.None));
        var batch = new StreamEventsResponse();
        Assert.True(await queue.WaitToReadAsync(CancellationToken.None));
        queue.ReadBatch(batch.Commands, 256, long.MaxValue);
        Assert.Equal(16, batch.Commands.Count);
        Assert.False(await queue.WaitToReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Write_CommandAboveTheLimit_IsRefused()
    {
        var queue = new CommandQueue(capacity: 16, byteBudget: long.MaxValue, maxCommandBytes: 1000);
        Assert.Equal(CommandAdmission.TooLarge, queue.TryWrite(Text(1000)));
        Assert.Equal(CommandAdmission.TooLarge, await queue.WriteAsync(Text(1000), CancellationToken.None));
        Assert.Equal(CommandAdmission.Queued, await queue.WriteAsync(Text(900), CancellationToken.None));
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public void ReadBatch_StopsBeforeTheByteCap()
    {
        var queue = new CommandQueue(capacity: 4096, byteBudget: long.MaxValue, maxCommandBytes: int.MaxValue);
        for (var i = 0; i < 100; i++)
        {
            queue.TryWrite(Text(1000));
        }
        const int Cap = 10_000;
        var perBatch = Cap / CommandQueue.EncodedSize(Text(1000));
        var total = 0;
        while (queue.Count > 0)
        {
            var batch = new StreamEventsResponse();
            var taken = queue.ReadBatch(batch.Commands, 256, Cap);
            Assert.Equal(batch.CalculateSize(), taken);
            Assert.True(batch.CalculateSize() <= Cap);
            Assert.Equal(Math.Min(perBatch, 100 - total), batch.Commands.Count);
            total += batch.Commands.Count;
        }
        Assert.Equal(0, queue.Bytes);
    }

    [Fact]
    public async Task GatewaySessions_WaitAllClosed_TimesOutOnTheTimeProvider()
    {
        using var sessions = new GatewaySessions();
        var time = new FakeTimeProvider();
        Assert.True(await sessions.WaitAllClosedAsync(TimeSpan.FromSeconds(10), time, CancellationToken.None));
        sessions.Opened();
        var wait = sessions.WaitAllClosedAsync(TimeSpan.FromSeconds(10), time, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(wait.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(await wait.WaitAsync(TestTimeouts.Short));
        var second = sessions.WaitAllClosedAsync(TimeSpan.FromSeconds(10), time, CancellationToken.None);
        sessions.Closed();
        Assert.True(await second.WaitAsync(TestTimeouts.Short));
    }
}
