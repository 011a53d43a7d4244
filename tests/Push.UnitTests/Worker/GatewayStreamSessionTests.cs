using Push.V1;
using Push.Worker.Diagnostics;
using Push.Worker.Grpc;

namespace Push.UnitTests.Worker;

/// <summary>
/// GatewayStreamSession over fake streams (no sockets, no sleeps), with the default worker options: how a stream ends
/// with a backlog, what happens to commands made outside callbacks, and the byte bounds of the command path.
/// </summary>
public sealed class GatewayStreamSessionTests
{
    private const string Client = "c0000000000000000000000000001";

    /// <summary>
    /// Fills the command path: the first write waits (the gateway stopped reading), the queue fills up to
    /// Worker:QueueCapacity, the lane's next command waits for room and the lane fills up. Returns the number of message callbacks run.
    /// </summary>
    private static async Task<int> FillCommandPathAsync(SessionHarness h, int messages)
    {
        h.Responses.Hold();
        h.Requests.SendInBatches([SessionHarness.Connect(Client), .. Enumerable.Range(0, messages).Select(i => SessionHarness.Message(Client, $"echo:{i}"))]);
        var first = await h.Responses.FirstHeld.WaitAsync(TestTimeouts.Short);
        // Message callback number first + capacity + 1 makes the command that finds the queue full.
        var blocking = first.Commands.Count + h.Options.QueueCapacity + 1;
        await h.Events.CallbacksStarted(1 + blocking).WaitAsync(TestTimeouts.Short);
        Assert.True(SpinWait.SpinUntil(() => h.Session.Commands.Waiting == 1, TestTimeouts.Short), "the lane waits for room in the command queue");
        Assert.Equal(h.Options.QueueCapacity, h.Session.Commands.Count);
        // Reading goes on until the lane is full too: the backlog is as large as the bounds allow.
        Assert.True(SpinWait.SpinUntil(() => h.Queued == h.Options.QueueCapacity, TestTimeouts.Short), "the lane fills up");
        return h.Events.Callbacks - 1;
    }

    [Theory]
    [InlineData("call ended")] // the gateway died: the call's token, the reader and the writer all fail
    [InlineData("writer failed")] // only the response stream broke
    public async Task GatewayDiesWithBacklog_RunAsyncEndsAndLanesStop_LeftoversCounted(string how)
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        const int Messages = 10_000;
        var handled = await FillCommandPathAsync(h, Messages);

        if (how == "call ended")
        {
            await h.Call.CancelAsync();
            h.Requests.Break();
        }
        h.Responses.Fail();
        await run.WaitAsync(TestTimeouts.Short);

        // The lane stopped at once: no callback ran after the stream ended, every event read and not handled is
        // counted (the lane's 4,096 and the rest of the message being read).
        Assert.Equal(handled, h.Events.Callbacks - 1);
        Assert.True(h.Requests.EventsRead > 1 + handled + h.Options.QueueCapacity, $"{h.Requests.EventsRead} events read");
        Assert.Equal(h.Requests.EventsRead - 1 - handled, h.Unhandled(DropReasons.StreamEnded));
        Assert.Equal(0, h.Unhandled(DropReasons.WorkerStopping));
        Assert.Equal(0, h.Queued);
        // Nothing was ever delivered: every command made is counted (the message in flight, the queue, the waiting one).
        Assert.Empty(h.Responses.Written);
        Assert.Equal(handled, h.Dropped(DropReasons.StreamEnded));
        Assert.Contains(h.Logger.Entries, e => e.Id.Name == "GatewayStreamBroken");
    }

    [Fact]
    public async Task HalfClose_AnswersEveryEventInOrder_NothingCounted()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        const int Messages = 3_000;
        h.Requests.SendInBatches([SessionHarness.Connect(Client), .. Enumerable.Range(0, Messages).Select(i => SessionHarness.Message(Client, $"echo:{i}"))]);
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);

        var texts = h.Responses.Written.SelectMany(b => b.Commands).Select(c => c.Send.Text).ToArray();
        Assert.Equal(Enumerable.Range(0, Messages).Select(i => $"echo:{i}"), texts);
        Assert.Equal(0, h.Unhandled(DropReasons.StreamEnded));
        Assert.Equal(0, h.Dropped(DropReasons.StreamEnded));
        Assert.Equal(0, h.Queued);
        Assert.Contains(h.Logger.Entries, e => e.Id.Name == "GatewayDetached");
    }

    [Fact]
    public async Task WorkerStopsHandling_WithBacklog_EndsAndCountsWorkerStopping()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        const int Messages = 10_000;
        var handled = await FillCommandPathAsync(h, Messages);

        // The end of the drain: stop reading, then stop handling; the gateway is alive but never reads.
        await h.StopReading.CancelAsync();
        await h.StopHandling.CancelAsync();
        await run.WaitAsync(TestTimeouts.Short);

        Assert.Equal(h.Requests.EventsRead - 1 - handled, h.Unhandled(DropReasons.WorkerStopping));
        Assert.Equal(handled, h.Dropped(DropReasons.StreamEnded));
        Assert.Equal(0, h.Queued);
    }

    [Fact]
    public async Task CommandOutsideCallback_FullQueue_IsCountedAndLoggedRateLimited()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        await FillCommandPathAsync(h, 10_000);
        var client = h.Events.Clients[Client];

        // A timer of the application pushes to the client: the queue is full, so the command is counted and logged.
        client.SendToCurrentClient("late 1");
        client.SendToCurrentClient("late 2");
        client.SendToCurrentClient("late 3");
        Assert.Equal(3, h.Dropped(DropReasons.QueueFull));
        var logs = h.Logger.Entries.Where(e => e.Id.Name == "CommandsDropped").ToArray();
        Assert.Single(logs);
        Assert.StartsWith("1 command(s)", logs[0].Message, StringComparison.Ordinal);

        // The next report comes after the interval, with what was dropped since.
        h.Time.Advance(CommandDropLog.Interval);
        client.SendToCurrentClient("late 4");
        logs = h.Logger.Entries.Where(e => e.Id.Name == "CommandsDropped").ToArray();
        Assert.Equal(2, logs.Length);
        Assert.StartsWith("3 command(s)", logs[1].Message, StringComparison.Ordinal);

        // Once the stream ended, such commands are counted as stream_ended.
        h.Responses.Fail();
        await run.WaitAsync(TestTimeouts.Short);
        var endedBefore = h.Dropped(DropReasons.StreamEnded);
        client.SendToCurrentClient("after the end");
        Assert.Equal(endedBefore + 1, h.Dropped(DropReasons.StreamEnded));
        Assert.Equal(4, h.Dropped(DropReasons.QueueFull));
    }

    [Fact]
    public async Task CommandOutsideCallback_WithRoom_IsSent()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        h.Requests.Send([SessionHarness.Connect(Client)]);
        await h.Events.CallbacksStarted(1).WaitAsync(TestTimeouts.Short);
        Assert.True(SpinWait.SpinUntil(() => h.Events.Clients.ContainsKey(Client), TestTimeouts.Short));
        h.Events.Clients[Client].SendToCurrentClient("from a timer");
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);
        Assert.Contains(h.Responses.Written.SelectMany(b => b.Commands), c => c.Send.Text == "from a timer");
        Assert.Equal(0, h.Dropped(DropReasons.QueueFull));
    }

    [Fact]
    public async Task Batches_NeverExceedTheByteCap_QueueStaysWithinItsByteBudget()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        const int Size = 300 * 1024;
        const int Messages = 120; // 36 MiB of commands: twice the queue's byte budget
        h.Responses.Hold();
        h.Requests.SendInBatches([SessionHarness.Connect(Client), .. Enumerable.Range(0, Messages).Select(_ => SessionHarness.Message(Client, $"big:{Size}")), SessionHarness.Message(Client, "big:5000000")]);
        var first = await h.Responses.FirstHeld.WaitAsync(TestTimeouts.Short);

        // With the writer held the queue fills by bytes, not by count, and the lane waits.
        Assert.True(SpinWait.SpinUntil(() => h.Session.Commands.Waiting == 1, TestTimeouts.Short), "the lane waits for room");
        Assert.InRange(h.Session.Commands.Bytes, h.Options.CommandQueueBytes - Size - 16, h.Options.CommandQueueBytes);
        Assert.True(h.Session.Commands.Count < 60);

        h.Responses.Release();
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);

        var batches = h.Responses.Written;
        Assert.Equal(Messages + 1, batches.Sum(b => b.Commands.Count));
        Assert.All(batches.Where(b => b.Commands.Count > 1), b => Assert.True(b.CalculateSize() <= h.Options.CommandBatchBytes, $"a batch of {b.Commands.Count} is {b.CalculateSize()} bytes"));
        Assert.Contains(batches, b => b.Commands.Count > 1); // commands were packed
        var alone = Assert.Single(batches, b => b.CalculateSize() > h.Options.CommandBatchBytes);
        Assert.Single(alone.Commands); // the 5 MB command went alone
        Assert.Equal(5_000_000, alone.Commands[0].Send.Text.Length);
        Assert.Equal(0, h.Dropped(DropReasons.StreamEnded));
    }

    [Fact]
    public async Task Lanes_AreBoundedByBytes_ReadingWaits()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        const int Size = 200 * 1024;
        const int Messages = 400; // 80 MiB of events, 80 MiB of echoes
        h.Responses.Hold();
        var payload = new string('p', Size);
        h.Requests.SendInBatches([SessionHarness.Connect(Client), .. Enumerable.Range(0, Messages).Select(i => SessionHarness.Message(Client, $"{i:D4}{payload}"))]);

        // The command queue fills by bytes, the lane waits, then the lanes fill by bytes and reading waits.
        Assert.True(SpinWait.SpinUntil(() => h.Session.Lanes.Bytes > h.Options.EventQueueBytes - Size - 64, TestTimeouts.Short), "the lanes fill up to their byte budget");
        Assert.True(h.Session.Lanes.Bytes <= h.Options.EventQueueBytes);
        Assert.True(h.Requests.EventsRead < 1 + Messages, "reading waits for room");
        Assert.True(h.Queued < 100, $"{h.Queued} events queued: the byte bound holds, not the count");

        h.Responses.Release();
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);
        var texts = h.Responses.Written.SelectMany(b => b.Commands).Select(c => c.Send.Text[..4]).ToArray();
        Assert.Equal(Enumerable.Range(0, Messages).Select(i => $"{i:D4}"), texts);
        Assert.Equal(0, h.Session.Lanes.Bytes);
    }

    [Fact]
    public async Task CommandAboveTheGatewayLimit_IsDroppedAndCounted_StreamGoesOn()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        h.Requests.Send([SessionHarness.Connect(Client), SessionHarness.Message(Client, $"big:{GatewayStreamSession.MaxCommandBytes + 1}"), SessionHarness.Message(Client, "echo:after")]);
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);
        Assert.Equal(1, h.Dropped(DropReasons.TooLarge));
        Assert.Equal(["echo:after"], h.Responses.Written.SelectMany(b => b.Commands).Select(c => c.Send.Text));
        Assert.Contains(h.Logger.Entries, e => e.Id.Name == "CommandsDropped" && e.Message.Contains("too_large", StringComparison.Ordinal));
    }
}
