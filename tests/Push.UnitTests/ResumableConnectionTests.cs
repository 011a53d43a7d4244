using System.Buffers;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Push.Gateway;
using Push.Gateway.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.WebSockets;

namespace Push.UnitTests;

/// <summary>
/// The push.v1 state of a connection: numbering, the retained tail and its bounds, acks, detach/attach with replay,
/// moving out and adopting with de-duplication by push id. In-memory pipes, no sockets, no sleeps.
/// </summary>
public sealed class ResumableConnectionTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    private sealed record Wire(ClientConnection Connection, Pipe ToClient, ResumeBudget Budget);

    private Wire Connect(GatewayOptions? options = null, ResumeBudget? budget = null, string id = "c1")
    {
        var metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());
        budget ??= new ResumeBudget(1 << 30);
        var (transport, toClient) = Transport();
        return new Wire(new ClientConnection(1, id, transport, metrics, options ?? new GatewayOptions(), budget), toClient, budget);
    }

    private static (ConnectionContext Transport, Pipe ToClient) Transport()
    {
        var toClient = new Pipe();
        var fromClient = new Pipe();
        return (new DefaultConnectionContext("t", new DuplexPipe(fromClient.Reader, toClient.Writer), new DuplexPipe(toClient.Reader, fromClient.Writer)), toClient);
    }

    private static OutboundFrame Text(string s, ulong pushId = 0)
    {
        var f = OutboundFrame.Text(s);
        f.PushId = pushId;
        return f;
    }

    // Reads the text payloads (and "[control]" for binary 0x01 frames) written so far.
    private static async Task<List<string>> ReadAsync(Pipe pipe, int count)
    {
        var result = new List<string>();
        while (result.Count < count)
        {
            var read = await pipe.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            var buffer = read.Buffer;
            while (result.Count < count && buffer.Length >= 2)
            {
                var head = buffer.Slice(0, Math.Min(4, buffer.Length)).ToArray();
                var len = head[1] & 0x7F;
                var headerLength = 2;
                if (len == 126)
                {
                    if (head.Length < 4)
                    {
                        break;
                    }
                    len = (head[2] << 8) | head[3];
                    headerLength = 4;
                }
                if (buffer.Length < headerLength + len)
                {
                    break;
                }
                var payload = buffer.Slice(headerLength, len).ToArray();
                result.Add((head[0] & 0x0F) == OutboundFrame.OpBinary && payload[0] == OutboundFrame.V1Control ? "[control]" : Encoding.UTF8.GetString(payload));
                buffer = buffer.Slice(headerLength + len);
            }
            pipe.Reader.AdvanceTo(buffer.Start, buffer.End);
        }
        return result;
    }

    [Fact]
    public async Task Messages_AreNumberedAndRetained_UntilAcknowledged_AndTheBudgetFollows()
    {
        var w = Connect();
        for (var i = 1; i <= 5; i++)
        {
            Assert.Equal(SendResult.Queued, w.Connection.TrySend(Text("m" + i)));
        }
        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], await ReadAsync(w.ToClient, 5));
        Assert.Equal(5UL, w.Connection.LastSeq);
        Assert.Equal(5, w.Connection.Tail.Count);
        Assert.Equal(w.Connection.Tail.Bytes, w.Budget.Bytes);

        Assert.True(w.Connection.Ack(3));
        Assert.Equal(2, w.Connection.Tail.Count);
        Assert.Equal(w.Connection.Tail.Bytes, w.Budget.Bytes);
        Assert.False(w.Connection.Ack(6)); // never sent: refused (a protocol error for the caller)
        Assert.True(w.Connection.Ack(5));
        Assert.Equal(0, w.Budget.Bytes);
    }

    [Fact]
    public async Task Detached_BuffersPushes_ThenAttachReplaysEverythingAfterTheClientsLastSeq_AfterTheWelcome()
    {
        var w = Connect();
        w.Connection.TrySend(Text("a"));
        w.Connection.TrySend(Text("b"));
        await ReadAsync(w.ToClient, 2);
        Assert.True(w.Connection.Detach(1006, "lost", 1, 1));
        Assert.Equal(ResumeState.Detached, w.Connection.State);
        Assert.Equal(SendResult.Queued, w.Connection.TrySend(Text("c")));
        Assert.Equal(SendResult.Queued, w.Connection.TrySend(Text("d")));

        var (transport, toClient) = Transport();
        // The client got "a" only (seq 1): b, c, d follow the welcome.
        var replayed = w.Connection.TryAttach(transport, 1, seq => ControlFrames.Welcome("c1", w.Connection.ResumeSecret!, seq, true, null, TimeSpan.FromMinutes(2), 250, TimeSpan.FromSeconds(25)));
        Assert.Equal(3, replayed);
        Assert.Equal(["[control]", "b", "c", "d"], await ReadAsync(toClient, 4));
        Assert.Equal(ResumeState.Attached, w.Connection.State);
        w.Connection.TrySend(Text("e"));
        Assert.Equal(["e"], await ReadAsync(toClient, 1));
        Assert.Equal(5UL, w.Connection.LastSeq);
    }

    [Fact]
    public void AResumeFromBeforeTheTail_OrAfterTheLastMessage_IsRefusedWithItsReason()
    {
        var w = Connect();
        for (var i = 0; i < 4; i++)
        {
            w.Connection.TrySend(Text("m"));
        }
        w.Connection.Ack(2);
        w.Connection.Detach(1006, "lost", 1, 1);
        Assert.Equal("overflow", w.Connection.CheckResume(0)); // message 1 and 2 were freed
        Assert.Equal("ahead", w.Connection.CheckResume(9));
        Assert.Null(w.Connection.CheckResume(2));
        Assert.Null(w.Connection.CheckResume(4));
    }

    [Fact]
    public async Task OverTheBoundWhileAttached_TheClientIsToldResumeLost_AndTheConnectionGoesOnWithoutResume()
    {
        var w = Connect(new GatewayOptions { ResumeBufferMessages = 3 });
        for (var i = 1; i <= 4; i++)
        {
            Assert.Equal(SendResult.Queued, w.Connection.TrySend(Text("m" + i)));
        }
        Assert.Equal(["m1", "m2", "m3", "[control]", "m4"], await ReadAsync(w.ToClient, 5));
        Assert.True(w.Connection.ResumeLost);
        Assert.Equal(0, w.Budget.Bytes);
        Assert.False(w.Connection.Detach(1006, "lost", 1, 1)); // nothing to resume: it ends as a plain connection would
        Assert.Equal(ResumeState.Released, w.Connection.State);
    }

    [Fact]
    public void OverTheBoundWhileAway_TheConnectionEnds_AndItsOwnerIsTold()
    {
        var lost = new List<string>();
        var budget = new ResumeBudget(1 << 30) { OnLost = (c, why) => lost.Add(c.ClientId + ":" + why) };
        var w = Connect(new GatewayOptions { ResumeBufferMessages = 2 }, budget);
        w.Connection.Detach(1006, "lost", 1, 1);
        Assert.Equal(SendResult.Queued, w.Connection.TrySend(Text("1")));
        Assert.Equal(SendResult.Queued, w.Connection.TrySend(Text("2")));
        Assert.Equal(SendResult.ResumeOverflow, w.Connection.TrySend(Text("3")));
        Assert.Equal(["c1:resume_overflow"], lost);
        Assert.Equal(ResumeState.Released, w.Connection.State);
        Assert.Equal(0, budget.Bytes);
        Assert.Equal(SendResult.Closing, w.Connection.TrySend(Text("4"))); // told once
        Assert.Single(lost);
    }

    [Fact]
    public async Task ASlowConsumer_IsClosed4001_ButKeepsEveryFrame_AndItsReplayIsNotCutByTheSendQueueBound()
    {
        // A client that does not read: the pipe takes one flush, then every frame stays queued.
        var metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());
        var stalled = new Pipe(new PipeOptions(pauseWriterThreshold: 1, resumeWriterThreshold: 1, useSynchronizationContext: false));
        var fromClient = new Pipe();
        var transport = new DefaultConnectionContext("t", new DuplexPipe(fromClient.Reader, stalled.Writer), new DuplexPipe(stalled.Reader, fromClient.Writer));
        var c = new ClientConnection(1, "slow", transport, metrics, new GatewayOptions { SendQueueBytes = 10_000 }, new ResumeBudget(1 << 30));
        var frame = OutboundFrame.Text(new string('x', 96)); // 100 bytes
        var sent = 0;
        while (c.ServerCloseCode == 0)
        {
            Assert.Equal(SendResult.Queued, c.TrySend(frame));
            sent++;
        }
        Assert.Equal(4001, c.ServerCloseCode);
        Assert.False(c.ResumeLost);
        Assert.True(c.Detach(4001, "slow consumer", 1, 1));
        await stalled.Reader.CompleteAsync(); // the old socket is gone: its pending flush ends
        Assert.Null(c.CheckResume(0));
        Assert.Equal((ulong)sent, c.LastSeq);

        var (fresh, toClient) = Transport();
        var replayed = c.TryAttach(fresh, 0, seq => ControlFrames.Welcome("slow", c.ResumeSecret!, seq, true, null, TimeSpan.FromMinutes(2), 250, TimeSpan.FromSeconds(25)));
        Assert.Equal(sent, replayed);
        Assert.True(c.QueuedBytes > 10_000); // the replay is larger than the send queue's bound...
        Assert.Equal(SendResult.Queued, c.TrySend(frame)); // ...and does not make the next push a slow-consumer close
        Assert.Equal(0, c.ServerCloseCode);
        var all = await ReadAsync(toClient, sent + 2);
        Assert.Equal("[control]", all[0]);
        Assert.Equal(sent + 1, all.Count(m => m == new string('x', 96)));
    }

    [Fact]
    public void TheGatewayWideBudget_BoundsEveryConnectionTogether()
    {
        var budget = new ResumeBudget(100);
        var a = Connect(budget: budget, id: "a");
        var b = Connect(budget: budget, id: "b");
        a.Connection.Detach(1006, "lost", 1, 1);
        b.Connection.Detach(1006, "lost", 1, 1);
        var frame = Text(new string('x', 38)); // 40 bytes
        Assert.Equal(SendResult.Queued, a.Connection.TrySend(frame));
        Assert.Equal(SendResult.Queued, b.Connection.TrySend(frame));
        Assert.Equal(SendResult.ResumeOverflow, a.Connection.TrySend(frame)); // 120 > 100: a ends
        Assert.Equal(40, budget.Bytes); // a's share is released, b keeps its
        Assert.Equal(ResumeState.Detached, b.Connection.State);
    }

    [Fact]
    public void MovingOut_HandsOverTheTailAfterTheClientsSeq_ThenNothingIsSentHere()
    {
        var w = Connect();
        w.Connection.TrySend(Text("1"));
        w.Connection.Detach(1006, "lost", 1, 1);
        Assert.True(w.Connection.BeginMove());
        Assert.Equal(SendResult.Queued, w.Connection.TrySend(Text("2", pushId: 7))); // still buffered while moving
        var tail = w.Connection.CompleteMove(lastSeq: 1);
        Assert.NotNull(tail);
        var (seq, frame) = Assert.Single(tail!);
        Assert.Equal(2UL, seq);
        Assert.Equal(7UL, frame.PushId);
        Assert.Equal("2", Encoding.UTF8.GetString(frame.AppPayload(v1: true)));
        Assert.Equal(ResumeState.Moved, w.Connection.State);
        Assert.Equal(SendResult.Closing, w.Connection.TrySend(Text("3")));
        Assert.Equal(0, w.Budget.Bytes);
    }

    [Fact]
    public void UndoneMove_WaitsForAResumeAgain()
    {
        var w = Connect();
        w.Connection.Detach(1006, "lost", 1, 1);
        Assert.True(w.Connection.BeginMove());
        Assert.False(w.Connection.BeginMove()); // one move at a time
        w.Connection.UndoMove();
        Assert.Equal(ResumeState.Detached, w.Connection.State);
    }

    [Fact]
    public async Task Adopting_TakesEachPushOnce_TheOwnersTailFirst_ThenWhatArrivedHere()
    {
        var w = Connect(id: "moved");
        w.Connection.StartAdoption();
        // Pushes reach this gateway while the owner still holds the connection: 7 reached both, 9 only this one.
        Assert.Equal(SendResult.Queued, w.Connection.TrySend(Text("p7", pushId: 7)));
        Assert.Equal(SendResult.Queued, w.Connection.TrySend(Text("p9", pushId: 9)));
        var ownerTail = new[] { OutboundFrame.V1App(true, "p5"u8, 5), OutboundFrame.V1App(true, "p7"u8, 7) };
        Assert.True(w.Connection.CompleteAdoption(lastSeq: 10, "0123456789abcdef0123456789abcdef", ownerTail));
        Assert.Equal(13UL, w.Connection.LastSeq); // 11 p5, 12 p7, 13 p9

        var (transport, toClient) = Transport();
        Assert.Equal(3, w.Connection.TryAttach(transport, 10, seq => ControlFrames.Welcome("moved", "s", seq, true, null, TimeSpan.FromMinutes(2), 250, TimeSpan.FromSeconds(25))));
        Assert.Equal(["[control]", "p5", "p7", "p9"], await ReadAsync(toClient, 4));
        Assert.True(w.Connection.SecretMatches("0123456789abcdef0123456789abcdef"));
    }

    [Fact]
    public void BinaryMessages_GetTheDataPrefix_EncodedOncePerFrame()
    {
        var frame = OutboundFrame.Binary([1, 2, 3]);
        var v1 = frame.ForV1();
        Assert.Same(v1, frame.ForV1());
        Assert.Equal([0x82, 4, 0x00, 1, 2, 3], v1.Bytes);
        Assert.Equal([1, 2, 3], v1.AppPayload(v1: true).ToArray());
        var text = OutboundFrame.Text("hi");
        Assert.Same(text, text.ForV1());
    }

    [Fact]
    public async Task FanoutGate_AGraceWaitsForEveryPushThatEnteredBefore_NotForLaterOnes()
    {
        var gate = new FanoutGate();
        var time = new FakeTimeProvider();
        var early = gate.Enter();
        var grace = gate.WaitForReadersAsync(time);
        var late = gate.Enter(); // entered after the grace began: not waited for
        for (var i = 0; i < 50 && !grace.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.Yield();
        }
        Assert.False(grace.IsCompleted);
        early.Dispose();
        while (!grace.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.Yield();
        }
        await grace.WaitAsync(TimeSpan.FromSeconds(10));
        late.Dispose();
    }

    [Theory]
    [InlineData("push.v1", true, false)]
    [InlineData("chat, push.v1", true, false)]
    [InlineData("chat", false, false)]
    [InlineData("push.v1, push.resume.0123456789abcdef0123456789abcdef01234567.0123456789abcdef0123456789abcdef.42", true, true)]
    [InlineData("push.resume.0123456789abcdef0123456789abcdef01234567.0123456789abcdef0123456789abcdef.42", false, false)]
    public void ResumeToken_IsReadFromTheSubprotocolOffer(string offer, bool v1, bool token)
    {
        Assert.Equal(v1, ResumeToken.TryRead(offer, out var t, out var malformed));
        Assert.Equal(token, t is not null);
        Assert.Null(malformed);
        if (t is { } r)
        {
            Assert.Equal(42UL, r.LastSeq);
            Assert.Equal("0123456789abcdef0123456789abcdef", r.Secret);
        }
    }

    [Theory]
    [InlineData("push.v1, push.resume.nothex.x.1")]
    [InlineData("push.v1, push.resume.0123456789abcdef0123456789abcdef01234567.short.1")]
    [InlineData("push.v1, push.resume.0123456789abcdef0123456789abcdef01234567.0123456789abcdef0123456789abcdef.-1")]
    public void AMalformedResumeToken_IsReported_NotTrusted(string offer)
    {
        Assert.True(ResumeToken.TryRead(offer, out var t, out var malformed));
        Assert.Null(t);
        Assert.NotNull(malformed);
    }

    [Theory]
    [InlineData("{\"type\":\"ack\",\"seq\":17}", "Ack", 17UL)]
    [InlineData("{\"seq\":3,\"type\":\"ack\"}", "Ack", 3UL)]
    [InlineData("{\"type\":\"ack\"}", "Malformed", 0UL)]
    [InlineData("{\"type\":\"ping\"}", "Ping", 0UL)]
    [InlineData("{\"type\":\"close\",\"why\":{\"a\":1}}", "Close", 0UL)]
    [InlineData("{\"type\":\"future\"}", "Unknown", 0UL)]
    [InlineData("not json", "Malformed", 0UL)]
    [InlineData("[1]", "Malformed", 0UL)]
    public void ClientControlMessages_AreParsed(string json, string kind, ulong seq)
    {
        Assert.Equal(Enum.Parse<ClientControlKind>(kind), ControlFrames.Parse(Encoding.UTF8.GetBytes(json), out var s));
        Assert.Equal(seq, s);
    }
}
