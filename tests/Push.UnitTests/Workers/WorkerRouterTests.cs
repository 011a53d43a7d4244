using Push.Gateway;
using Push.Gateway.Connections;
using Push.Gateway.Workers;
using Push.V1;

namespace Push.UnitTests.Workers;

/// <summary>WorkerRouter and WorkerLink over fake worker streams and fake time: no sockets, no sleeps.</summary>
public sealed class WorkerRouterTests
{
    private static string Text(Event e) => e.Message?.Text ?? e.KindCase.ToString();

    private static void DrainStarted(FakeStream s)
    {
        while (s.Started.Reader.TryRead(out _))
        {
        }
    }

    [Fact]
    public async Task WorkerDiesMidBatch_UnwrittenEventsMoveInOrderToTheNextWorker_WithTheSession()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var streams = await h.AddWorkersAsync(ct, "w1", "w2");
        var c = h.Connect();
        SessionStore.Write(c, new Dictionary<string, string> { ["k"] = "v" }, merge: false, 1000, workerHasIt: false);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m0"), ct);
        var pinned = streams.Single(s => s.WorkerId == c.Worker!.WorkerId);
        var other = streams.Single(s => s != pinned);
        Assert.Equal("v", (await pinned.EventsAsync(1, ct))[0].Session.Values["k"]);
        await pinned.AckAppliedAsync(1, ct); // m0 was handled: it stays where it was
        DrainStarted(pinned);

        pinned.HoldWrites();
        for (var i = 1; i <= 5; i++)
        {
            await h.Router.PostAsync(c, RouterHarness.Message(c, $"m{i}"), ct);
        }
        var inFlight = await pinned.Started.Reader.ReadAsync(ct); // a batch is being written when the worker dies
        pinned.Fail();
        await h.UntilAsync(() => c.Worker?.WorkerId == other.WorkerId, ct);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m6"), ct);

        var moved = await other.EventsAsync(6, ct);
        Assert.NotEmpty(inFlight.Events);
        Assert.Equal(["m1", "m2", "m3", "m4", "m5", "m6"], moved.Select(Text));
        Assert.Equal("v", moved[0].Session.Values["k"]); // the new worker gets the session with the first event
        Assert.All(moved.Skip(1), e => Assert.Null(e.Session));
        Assert.Empty(pinned.Events());
        Assert.Equal(0, h.Dropped);
        Assert.Equal(1, h.Link(other.WorkerId).Assigned);
        Assert.Equal(0, h.Link(pinned.WorkerId).Assigned);
    }

    [Fact]
    public async Task OnlyWorkerDies_QueuedEventsAndEventsPostedAfterTheClose_AreCounted()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var (s, c) = ((await h.AddWorkersAsync(ct, "w1"))[0], h.Connect());
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m0"), ct);
        await s.EventsAsync(1, ct);
        await s.AckAppliedAsync(1, ct);
        s.HoldWrites();
        for (var i = 1; i <= 3; i++)
        {
            await h.Router.PostAsync(c, RouterHarness.Message(c, $"m{i}"), ct);
        }

        s.Fail();
        await h.UntilAsync(() => h.Dropped == 3, ct);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "late"), ct);
        h.Router.PostClose(c, new Event { ClientId = c.ClientId, Close = new CloseEvent { Code = 1000 } });

        Assert.Equal(5, h.Dropped);
        Assert.Null(c.Worker);
        Assert.Equal(PostResult.Closed, h.Link("w1").Queue.Post(RouterHarness.Message(c, "x"), 1, c, out _));
        Assert.Equal(0, h.Link("w1").Assigned);
    }

    [Fact]
    public async Task StreamFails_LinkReconnectsAfterBackoffOnFakeTime_AndResendsTheSession()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var s = (await h.AddWorkersAsync(ct, "w1"))[0];
        var c = h.Connect();
        SessionStore.Write(c, new Dictionary<string, string> { ["k"] = "v" }, merge: false, 1000, workerHasIt: false);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m0"), ct);
        await s.EventsAsync(1, ct);

        s.Fail();
        await h.Time.AdvanceWhenWaitingAsync(TimeSpan.FromMilliseconds(500), ct); // the first retry waits 0.5 s
        var again = await h.NextStreamAsync("w1", ct);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m1"), ct);

        var e = Assert.Single(await again.EventsAsync(1, ct));
        Assert.Equal("m1", Text(e));
        Assert.Equal("v", e.Session.Values["k"]); // a new stream is a worker without this client's session
        Assert.Equal(1, h.Link("w1").Assigned);
    }

    [Fact]
    public async Task ByteBudget_BlocksThePoster_AndReleasesItWhenTheBatchIsWritten()
    {
        var ct = RouterHarness.Timeout();
        const int Budget = 64 * 1024;
        await using var h = new RouterHarness(new GatewayOptions { WorkerQueueBytes = Budget });
        await h.StartAsync();
        var s = (await h.AddWorkersAsync(ct, "w1"))[0];
        var c = h.Connect();
        var link = h.Link("w1");
        s.HoldWrites();

        ValueTask pending = default;
        var posted = 0;
        while (posted < 100)
        {
            pending = h.Router.PostAsync(c, RouterHarness.Message(c, 10 * 1024), ct);
            posted++;
            Assert.True(link.Queue.Bytes <= Budget, $"{link.Queue.Bytes} bytes queued, budget {Budget}");
            if (!pending.IsCompleted)
            {
                break;
            }
        }

        Assert.False(pending.IsCompleted, "a poster over the budget waits");
        Assert.InRange(posted, 5, 8);
        Assert.Equal(1, link.Queue.WaitingCount);
        s.OpenWrites();
        await pending;
        var events = await s.EventsAsync(posted, ct);
        Assert.Equal(posted, events.Count);
        Assert.Equal(0, h.Dropped);
    }

    [Fact]
    public async Task Batches_StayUnderTheByteCap_InOrder()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var s = (await h.AddWorkersAsync(ct, "w1"))[0];
        var c = h.Connect();
        s.HoldWrites();
        for (var i = 0; i < 10; i++)
        {
            var e = RouterHarness.Message(c, 1024 * 1024);
            e.Message.Binary = Google.Protobuf.ByteString.CopyFrom(Enumerable.Repeat((byte)i, 1024 * 1024).ToArray());
            await h.Router.PostAsync(c, e, ct);
        }
        s.OpenWrites();

        var batches = new List<StreamEventsRequest>();
        var n = 0;
        while (n < 10)
        {
            var b = await s.Written.Reader.ReadAsync(ct);
            batches.Add(b);
            n += b.Events.Count;
        }

        Assert.All(batches, b => Assert.True(b.Events.Count == 1 || b.Events.Sum(e => e.CalculateSize()) <= WorkerLink.MaxBatchBytes, $"batch of {b.Events.Count} events, {b.Events.Sum(e => e.CalculateSize())} bytes"));
        Assert.True(batches.Count >= 3, $"{batches.Count} batches");
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (byte)i), batches.SelectMany(b => b.Events).Select(e => e.Message.Binary[0]));
    }

    [Fact]
    public async Task EventLargerThanTheBatchCap_GoesAlone()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var s = (await h.AddWorkersAsync(ct, "w1"))[0];
        var c = h.Connect();
        s.HoldWrites();
        await h.Router.PostAsync(c, RouterHarness.Message(c, "small"), ct);
        await h.Router.PostAsync(c, RouterHarness.Message(c, WorkerLink.MaxBatchBytes + 1), ct);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "after"), ct);
        s.OpenWrites();

        var sizes = new List<int>();
        var n = 0;
        while (n < 3)
        {
            var b = await s.Written.Reader.ReadAsync(ct);
            sizes.Add(b.Events.Count);
            n += b.Events.Count;
            Assert.True(b.Events.Count == 1 || b.Events.All(e => e.CalculateSize() < WorkerLink.MaxBatchBytes));
        }
        Assert.Equal(3, n);
    }

    [Fact]
    public async Task WorkerLeaves_QueuedEventsMoveToTheOtherWorker_AndItsCallIsCutAfterLeaveTimeout()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var streams = await h.AddWorkersAsync(ct, "w1", "w2");
        var c = h.Connect();
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m0"), ct);
        var pinned = streams.Single(s => s.WorkerId == c.Worker!.WorkerId);
        var other = streams.Single(s => s != pinned);
        await pinned.EventsAsync(1, ct);
        pinned.HoldWrites();
        for (var i = 1; i <= 3; i++)
        {
            await h.Router.PostAsync(c, RouterHarness.Message(c, $"m{i}"), ct);
        }
        await pinned.Started.Reader.ReadAsync(ct); // the hello
        await pinned.Started.Reader.ReadAsync(ct); // m0

        h.RemoveWorker(pinned.WorkerId);
        pinned.OpenWrites(); // the batch in flight is written; the rest moves
        await pinned.WhenHalfClosed.WaitAsync(ct);
        await pinned.AckAppliedAsync(pinned.WrittenCount, ct); // it acknowledged what it got
        Assert.Contains(h.Router.Links, l => l.WorkerId == pinned.WorkerId); // still reading the leaving worker's commands
        await h.Time.AdvanceWhenWaitingAsync(WorkerLink.LeaveTimeout, ct); // the leaving worker never ends its stream
        await h.UntilAsync(() => h.Router.Links.All(l => l.WorkerId != pinned.WorkerId), ct);

        var atPinned = pinned.Events().Select(Text).ToList();
        var atOther = (await other.EventsAsync(3 - atPinned.Count, ct)).Select(Text).ToList(); // moved when its stream ended
        Assert.Equal(["m1", "m2", "m3"], atPinned.Concat(atOther));
        Assert.True(pinned.HalfClosed);
        await h.Router.PostAsync(c, RouterHarness.Message(c, "m4"), ct);
        Assert.Equal("m4", Text((await other.EventsAsync(1, ct)).Last()));
    }

    [Fact]
    public async Task StopAsync_WaitsForEveryLinkToEnd()
    {
        var ct = RouterHarness.Timeout();
        var h = new RouterHarness();
        await h.StartAsync();
        var streams = await h.AddWorkersAsync(ct, "w1", "w2");

        var stop = h.Router.StopAsync(ct);
        Assert.False(stop.IsCompleted);
        foreach (var s in streams)
        {
            await s.WhenHalfClosed.WaitAsync(ct);
            s.End(); // each leaving worker answers and ends its stream
        }
        await stop.WaitAsync(ct);

        Assert.Empty(h.Router.Links);
        Assert.All(streams, s => Assert.True(s.HalfClosed));
        await h.DisposeAsync();
    }

    [Fact]
    public async Task ConcurrentPosts_Reroutes_AndCloses_KeepAssignedCountsAndPerClientOrder()
    {
        var ct = RouterHarness.Timeout();
        await using var h = new RouterHarness();
        await h.StartAsync();
        var streams = await h.AddWorkersAsync(ct, "w1", "w2", "w3");
        var clients = Enumerable.Range(0, 60).Select(_ => h.Connect()).ToArray();
        const int PerClient = 40;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var c in clients)
        {
            await h.Router.PostAsync(c, RouterHarness.Message(c, "first"), ct); // pins a third to each worker
        }
        Assert.Equal(20, h.Link("w1").Assigned);
        streams[0].HoldWrites(); // w1's events pile up in its queue until it dies

        // Each client's receive loop posts its events one after the other; a worker dies meanwhile; a third of the
        // clients close at the end (their close event follows their messages).
        var loops = clients.Select((c, i) => Task.Run(async () =>
        {
            await start.Task;
            for (var n = 0; n < PerClient; n++)
            {
                await h.Router.PostAsync(c, RouterHarness.Message(c, $"{n}"), ct);
                if (n == PerClient / 2)
                {
                    halfway.TrySetResult();
                }
            }
            if (i % 3 == 0)
            {
                h.Router.PostClose(c, new Event { ClientId = c.ClientId, Close = new CloseEvent { Code = 1000 } });
            }
        }, ct)).ToArray();
        var killer = Task.Run(async () =>
        {
            await halfway.Task;
            streams[0].Fail();
        }, ct);
        start.SetResult();
        await Task.WhenAll([.. loops, killer]);

        var links = h.Router.Links;
        foreach (var link in links)
        {
            Assert.Equal(clients.Count(c => ReferenceEquals(c.Worker, link)), link.Assigned);
        }
        Assert.Equal(clients.Count(c => c.Worker is not null), links.Sum(l => l.Assigned));
        Assert.Equal(clients.Length - clients.Length / 3, clients.Count(c => c.Worker is not null));
        Assert.Equal(0, h.Link("w1").Assigned);

        // Per client: what the dead worker got, then what the others got, is every message in order, once when the
        // redeliveries (the events the dead worker got and had not acknowledged) are set aside.
        var expected = clients.Length * (PerClient + 1) + clients.Length / 3;
        var got = streams.ToDictionary(x => x.WorkerId, x => x.Events());
        var live = streams.Skip(1).ToArray();
        while (got.Values.SelectMany(l => l).Select(e => (e.ClientId, e.Seq)).Distinct().Count() < expected)
        {
            await Task.WhenAny(live.Select(x => x.Written.Reader.WaitToReadAsync(ct).AsTask())).WaitAsync(ct);
            foreach (var x in live)
            {
                got[x.WorkerId].AddRange(x.Events());
            }
        }
        foreach (var (c, i) in clients.Select((c, i) => (c, i)))
        {
            var all = streams.SelectMany(x => got[x.WorkerId].Where(e => e.ClientId == c.ClientId)).ToList();
            var seen = new HashSet<ulong>();
            var firsts = all.Where(e => seen.Add(e.Seq)).ToList();
            Assert.All(all.Except(firsts), e => Assert.True(e.Redelivered, $"a duplicate of {c.ClientId}'s event {e.Seq} is not flagged"));
            Assert.Equal(Enumerable.Range(1, firsts.Count).Select(n => (ulong)n), firsts.Select(e => e.Seq));
            var sequence = firsts.Select(Text);
            var want = new[] { "first" }.Concat(Enumerable.Range(0, PerClient).Select(n => $"{n}")).Concat(i % 3 == 0 ? ["Close"] : Array.Empty<string>());
            Assert.Equal(want, sequence);
        }
        Assert.Equal(0, h.Dropped);
    }

}
