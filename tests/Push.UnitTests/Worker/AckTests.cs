using Push.V1;
using Push.Worker.Grpc;

namespace Push.UnitTests.Worker;

/// <summary>
/// The worker's acknowledgements (StreamEventsResponse.ack) and its de-duplication of redelivered events, over fake
/// streams and fake time: the watermark with out-of-order completions, acks that wait for their events' commands,
/// acks batched with commands or alone after the delay, redeliveries skipped by client and Event.seq, resume and moved.
/// </summary>
public sealed class AckTests
{
    private const string A = "c0000000000000000000000000001";
    private static readonly string B = OnAnotherLane(A);

    /// <summary>A client id whose events run on another lane than <paramref name="id"/>'s (lanes are picked by hash).</summary>
    private static string OnAnotherLane(string id)
    {
        var lanes = (uint)new Push.Worker.WorkerOptions().Concurrency;
        uint Lane(string s) => (uint)StringComparer.Ordinal.GetHashCode(s) % lanes;
        for (var i = 2; ; i++)
        {
            var other = $"c{i:D28}";
            if (Lane(other) != Lane(id))
            {
                return other;
            }
        }
    }

    private static Event Seq(Event e, ulong seq, bool redelivered = false)
    {
        e.Seq = seq;
        e.Redelivered = redelivered;
        return e;
    }

    [Fact]
    public void Watermark_IsTheHighestNWithEveryEventUpToNCompleted()
    {
        var w = new AckWindow();
        for (var i = 0; i < 5; i++)
        {
            w.Next();
        }

        w.Complete(2, 0);
        w.Complete(3, 0);
        Assert.Equal(0UL, w.Watermark); // 1 is still running
        Assert.False(w.WhenNews().IsCompleted);
        w.Complete(1, 0);
        Assert.Equal(3UL, w.Watermark);
        Assert.True(w.WhenNews().IsCompleted);
        w.Complete(5, 0);
        Assert.Equal(3UL, w.Watermark);
        w.Complete(4, 0);
        Assert.Equal(5UL, w.Watermark);
        Assert.Equal(5UL, w.Take(0));
        Assert.Equal(0UL, w.Take(0)); // no news
    }

    [Fact]
    public void Take_WaitsUntilTheCommandsOfTheAcknowledgedEventsWereTaken()
    {
        var w = new AckWindow();
        w.Next();
        w.Next();
        w.Complete(1, commandsAdmitted: 3); // event 1's commands are the first 3
        w.Complete(2, commandsAdmitted: 7);

        Assert.Equal(0UL, w.Take(2)); // a batch that took 2 commands cannot acknowledge event 1
        Assert.Equal(1UL, w.Take(5));
        Assert.Equal(2UL, w.Take(7));
    }

    [Fact]
    public async Task OutOfOrderCompletions_TheAckCoversOnlyTheEventsCompletedWithoutAGap()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        h.Requests.Send([Seq(SessionHarness.Message(A, "gate:a"), 1), Seq(SessionHarness.Message(B, "b1"), 1), Seq(SessionHarness.Message(B, "b2"), 2)]);

        // B's two events complete; A's first still runs: the echoes of b1 and b2 go out, no ack.
        var echoes = new List<StreamEventsResponse>();
        while (echoes.Sum(r => r.Commands.Count) < 2)
        {
            echoes.Add(await NextAsync(h, r => true));
        }
        Assert.All(echoes, r => Assert.Equal(0UL, r.Ack));
        Assert.Equal(["b1", "b2"], echoes.SelectMany(r => r.Commands).Select(c => c.Send.Text));
        Assert.Equal(0UL, h.Session.Acks.Watermark);

        h.Events.Gates.GetOrAdd("a", _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).SetResult();
        Assert.True(SpinWait.SpinUntil(() => h.Session.Acks.Watermark == 3, TestTimeouts.Short), "the gap closed");
        h.Time.Advance(CommandWriter.AckDelay); // in case the echo of gate:a went out before the watermark moved
        var rest = new List<StreamEventsResponse>();
        do
        {
            rest.Add(await NextAsync(h, r => true));
        }
        while (rest[^1].Ack == 0);
        Assert.Equal(3UL, rest[^1].Ack);
        Assert.Equal(["gate:a"], rest.SelectMany(r => r.Commands).Select(c => c.Send.Text));

        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);
    }

    [Fact]
    public async Task AckWithoutCommands_GoesAloneAfterTheDelay_OneMessageForManyEvents()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        h.Requests.Send(Enumerable.Range(1, 50).Select(i => Seq(SessionHarness.Message(A, $"quiet:{i}"), (ulong)i)));
        Assert.True(SpinWait.SpinUntil(() => h.Session.Acks.Watermark == 50, TestTimeouts.Short), "every event handled");
        Assert.Empty(h.Responses.Written); // the ack waits for commands to ride with

        h.Time.Advance(CommandWriter.AckDelay);

        var alone = await h.Responses.Writes.Reader.ReadAsync().AsTask().WaitAsync(TestTimeouts.Short);
        Assert.Empty(alone.Commands);
        Assert.Equal(50UL, alone.Ack);
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);
        Assert.Single(h.Responses.Written);
    }

    [Fact]
    public async Task EchoOneAtATime_TheCommandAndItsAckTravelInOneMessage_NoAckDelay()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        for (var i = 1; i <= 3; i++)
        {
            // The lane moves the watermark before it wakes the writer: the echo carries its own ack at once (the
            // fake clock never advances, so an ack left for AckDelay would never go).
            h.Requests.Send([Seq(SessionHarness.Message(A, $"echo:{i}"), (ulong)i)]);
            var r = await h.Responses.Writes.Reader.ReadAsync().AsTask().WaitAsync(TestTimeouts.Short);
            Assert.Equal([$"echo:{i}"], r.Commands.Select(c => c.Send.Text));
            Assert.Equal((ulong)i, r.Ack);
        }
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);
        Assert.Equal(3, h.Responses.Written.Count);
    }

    [Fact]
    public async Task HalfClose_TheLastAckGoesOutBeforeTheStreamEnds()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        h.Requests.Send([Seq(SessionHarness.Connect(A), 1), Seq(SessionHarness.Message(A, "quiet:x"), 2)]);
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);

        Assert.Equal(2UL, h.Responses.Written.Max(r => r.Ack));
    }

    [Fact]
    public async Task Redelivered_AnEventThisWorkerHandledIsAcknowledgedNotRunAgain_ANewOneRunsFlagged()
    {
        var handled = new HandledSeqs();
        using (var first = new SessionHarness(handled: handled))
        {
            var run = first.RunAsync();
            first.Requests.Send([Seq(SessionHarness.Connect(A), 1), Seq(SessionHarness.Message(A, "m2"), 2), Seq(SessionHarness.Message(A, "m3"), 3)]);
            first.Requests.HalfClose(); // the ack of 3 is written; say the gateway never read it
            await run.WaitAsync(TestTimeouts.Short);
            Assert.Equal(3UL, first.Responses.Written.Max(r => r.Ack));
        }

        using var second = new SessionHarness(handled: handled);
        var again = second.RunAsync();
        second.Requests.Send([Seq(SessionHarness.Message(A, "m2"), 2, redelivered: true), Seq(SessionHarness.Message(A, "m3"), 3, redelivered: true), Seq(SessionHarness.Message(A, "m4"), 4, redelivered: true), Seq(SessionHarness.Message(A, "m5"), 5)]);
        second.Requests.HalfClose();
        await again.WaitAsync(TestTimeouts.Short);

        Assert.Equal([$"message:{A}:m4+r", $"message:{A}:m5"], second.Events.Log);
        Assert.Equal(["m4", "m5"], second.Responses.Written.SelectMany(r => r.Commands).Select(c => c.Send.Text));
        Assert.Equal(4UL, second.Responses.Written.Max(r => r.Ack)); // the skipped ones are acknowledged too
        Assert.Equal(2, second.Meters.Sum("push.worker.events.deduplicated"));
        Assert.Equal(1, second.Meters.Sum("push.worker.events.redelivered"));
    }

    [Fact]
    public async Task Close_ForgetsTheClient_AStreamThatEndsKeepsItsClientsForRedeliveries()
    {
        var handled = new HandledSeqs();
        using var h = new SessionHarness(handled: handled);
        var run = h.RunAsync();
        h.Requests.Send([Seq(SessionHarness.Connect(A), 1), Seq(SessionHarness.Connect(B), 1), Seq(new Event { ClientId = B, Close = new CloseEvent { Code = 1000 } }, 2)]);
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);

        Assert.True(handled.Handled(A, 1));
        Assert.False(handled.Handled(B, 1));
        Assert.Equal(1, handled.Count);
    }

    [Fact]
    public async Task Resume_OfAClientThisStreamNeverSaw_MakesItsStateFromTheEvent_MovedReleasesItWithoutOnClose()
    {
        using var h = new SessionHarness();
        var run = h.RunAsync();
        var resume = Seq(new Event
        {
            ClientId = A,
            Session = new Session { Values = { ["k"] = "v" } },
            Uid = "u1",
            Resume = new ResumeEvent { FromGatewayId = "gw-old", AwayMs = 1500, Replayed = 3, RemoteAddress = "10.0.0.1", RemotePort = 4000, GatewayEndpoint = "gw:1" },
        }, 7);
        h.Requests.Send([resume, Seq(SessionHarness.Message(A, "m8"), 8), Seq(new Event { ClientId = A, Moved = new MovedEvent { ToGatewayId = "gw-new" } }, 9)]);
        h.Requests.HalfClose();
        await run.WaitAsync(TestTimeouts.Short);

        Assert.Equal([$"resume:{A}:gw-old:1500:v", $"message:{A}:m8"], h.Events.Log);
        Assert.False(h.Events.Clients.ContainsKey(A)); // it never connected here: no OnConnect, and no OnClose after moved
        Assert.Equal(["welcome back", "m8"], h.Responses.Written.SelectMany(r => r.Commands).Select(c => c.Send.Text));
        Assert.Equal(3UL, h.Responses.Written.Max(r => r.Ack));
        Assert.Equal(0, h.Unhandled(Push.Worker.Diagnostics.DropReasons.StreamEnded));
    }

    private static async Task<StreamEventsResponse> NextAsync(SessionHarness h, Func<StreamEventsResponse, bool> match)
    {
        while (true)
        {
            var r = await h.Responses.Writes.Reader.ReadAsync().AsTask().WaitAsync(TestTimeouts.Short);
            if (match(r))
            {
                return r;
            }
        }
    }
}
