using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Push.Gateway;
using Push.Gateway.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.WebSockets;

namespace Push.UnitTests;

/// <summary>
/// A connection's send queue is bounded and accounted in bytes (QueuedBytes, the peak in GatewayMetrics), with a
/// client that does not read: the transport pipe accepts one flush and then waits, so every later frame stays queued.
/// In-memory pipes, no sockets, no sleeps.
/// </summary>
public sealed class SendQueueAccountingTests : IDisposable
{
    private const int Bound = 10_000;
    private static readonly OutboundFrame Frame = OutboundFrame.Text(new string('x', 996)); // 4-byte header: 1 000 bytes

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly Pipe _toClient = new(new PipeOptions(pauseWriterThreshold: 1, resumeWriterThreshold: 1, useSynchronizationContext: false));

    public void Dispose() => _services.Dispose();

    private (ClientConnection Connection, GatewayMetrics Metrics) Connect(SlowConsumerPolicy policy)
    {
        var metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());
        var fromClient = new Pipe();
        var transport = new DefaultConnectionContext("c1", new DuplexPipe(fromClient.Reader, _toClient.Writer), new DuplexPipe(_toClient.Reader, fromClient.Writer));
        var options = new GatewayOptions { SendQueueBytes = Bound, SlowConsumerPolicy = policy };
        var c = new ClientConnection(1, "c1", transport, metrics, options);
        // The first frame goes to the pipe; its flush waits for a reader that never comes.
        Assert.True(c.Send(Frame));
        Assert.Equal(0, c.QueuedBytes);
        return (c, metrics);
    }

    [Fact]
    public void Close_QueueFillsExactlyToTheBound_ThenTheOverflowClosesAndIsCounted()
    {
        Assert.Equal(1000, Frame.Length);
        var (c, metrics) = Connect(SlowConsumerPolicy.Close);

        for (var i = 0; i < Bound / Frame.Length; i++)
        {
            Assert.True(c.Send(Frame));
        }
        Assert.Equal(Bound, c.QueuedBytes);
        Assert.Equal(Bound, metrics.SendQueuePeakBytes);

        Assert.False(c.Send(Frame)); // does not fit: the queue is dropped, a close 4001 queued
        Assert.InRange(c.QueuedBytes, 4, 127); // only the close frame, which is counted
        Assert.Equal(Bound / Frame.Length + 1, metrics.MessagesDropped);
        Assert.Equal(4001, c.ServerCloseCode);
        Assert.False(c.Send(Frame));
        Assert.True(metrics.SendQueuePeakBytes <= Bound + 127);
    }

    [Fact]
    public void DropOldest_QueueNeverExceedsTheBound_EveryDropCounted()
    {
        var (c, metrics) = Connect(SlowConsumerPolicy.DropOldest);

        for (var i = 0; i < 30; i++)
        {
            Assert.True(c.Send(Frame));
            Assert.True(c.QueuedBytes <= Bound, $"{c.QueuedBytes} B queued after {i + 1} sends");
        }

        Assert.Equal(Bound, c.QueuedBytes);
        Assert.Equal(Bound, metrics.SendQueuePeakBytes);
        Assert.Equal(30 - Bound / Frame.Length, metrics.MessagesDropped);
        Assert.Equal(0, c.ServerCloseCode);
    }

    [Fact]
    public void CloseWithLastMessage_BothFramesAreCountedWhateverTheBound()
    {
        var (c, _) = Connect(SlowConsumerPolicy.Close);
        for (var i = 0; i < Bound / Frame.Length; i++)
        {
            c.Send(Frame);
        }

        c.Close(1000, "bye", lastMessage: Frame);

        Assert.InRange(c.QueuedBytes, Bound + Frame.Length + 4, Bound + Frame.Length + 127);
    }

    [Fact]
    public async Task ClientReadsEverything_QueuedBytesBackToZero()
    {
        var (c, metrics) = Connect(SlowConsumerPolicy.Close);
        for (var i = 0; i < 5; i++)
        {
            c.Send(Frame);
        }
        Assert.Equal(5 * Frame.Length, c.QueuedBytes);

        // Reading all six frames: the pump dequeues (and un-counts) a frame before writing it to the pipe.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        long read = 0;
        while (read < 6 * Frame.Length)
        {
            var r = await _toClient.Reader.ReadAsync(timeout.Token);
            read += r.Buffer.Length;
            _toClient.Reader.AdvanceTo(r.Buffer.End);
        }

        Assert.Equal(6 * Frame.Length, read);
        Assert.Equal(0, c.QueuedBytes);
        Assert.Equal(5 * Frame.Length, metrics.SendQueuePeakBytes);
    }

    [Fact]
    public void Run_Close_SameOutcomeAsThatManySends()
    {
        var (c, metrics) = Connect(SlowConsumerPolicy.Close);
        var run = Enumerable.Repeat(Frame, Bound / Frame.Length + 2).ToArray();

        // Ten fit, the eleventh overflows (the queue is dropped, 4001 queued), the twelfth finds the client closing.
        Assert.Equal(Bound / Frame.Length, c.PushRun(run, inline: true));
        Assert.InRange(c.QueuedBytes, 4, 127);
        Assert.Equal(Bound / Frame.Length + 1, metrics.MessagesDropped);
        Assert.Equal(4001, c.ServerCloseCode);
        Assert.Equal(0, c.PushRun(run, inline: true));
    }

    [Fact]
    public void Run_DropOldest_NeverExceedsTheBound_EveryDropCounted()
    {
        var (c, metrics) = Connect(SlowConsumerPolicy.DropOldest);

        Assert.Equal(30, c.PushRun(Enumerable.Repeat(Frame, 30).ToArray(), inline: true));

        Assert.Equal(Bound, c.QueuedBytes);
        Assert.Equal(Bound, metrics.SendQueuePeakBytes);
        Assert.Equal(30 - Bound / Frame.Length, metrics.MessagesDropped);
        Assert.Equal(0, c.ServerCloseCode);
    }

    [Fact]
    public async Task Run_FramesReachTheClientInOrder_AfterWhatWasQueuedBefore()
    {
        var (c, _) = Connect(SlowConsumerPolicy.Close);
        Assert.True(c.Send(OutboundFrame.Text("before")));
        var run = Enumerable.Range(0, 5).Select(i => OutboundFrame.Text("run " + i)).ToArray();
        Assert.Equal(5, c.PushRun(run, inline: false));
        Assert.True(c.Send(OutboundFrame.Text("after")));

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var expected = new[] { Frame }.Concat([OutboundFrame.Text("before")]).Concat(run).Concat([OutboundFrame.Text("after")]).SelectMany(f => f.Bytes).ToArray();
        var got = new List<byte>();
        while (got.Count < expected.Length)
        {
            var r = await _toClient.Reader.ReadAsync(timeout.Token);
            foreach (var segment in r.Buffer)
            {
                got.AddRange(segment.Span.ToArray());
            }
            _toClient.Reader.AdvanceTo(r.Buffer.End);
        }
        Assert.Equal(expected, got.ToArray());
        Assert.Equal(0, c.QueuedBytes);
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
