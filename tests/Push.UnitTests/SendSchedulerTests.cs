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
/// The fan-out scheduler: connections scheduled inside a fan-out scope, outside it and from several threads at once
/// all get their pumps run and every frame written, and a fan-out's frames are written together (fewer writes than
/// frames). In-memory pipes, no sockets, no sleeps.
/// </summary>
[Collection(nameof(SendSchedulerTests))] // alone: the scheduler is process-wide, another test's sweeper would blur the counts
public sealed class SendSchedulerTests : IDisposable
{
    private static readonly OutboundFrame Frame = OutboundFrame.Text(new string('x', 60)); // 2-byte header: 62 bytes
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    private (ClientConnection Connection, Pipe ToClient) Connect(GatewayMetrics metrics, int i)
    {
        var toClient = new Pipe(new PipeOptions(useSynchronizationContext: false));
        var fromClient = new Pipe();
        var transport = new DefaultConnectionContext("c" + i, new DuplexPipe(fromClient.Reader, toClient.Writer), new DuplexPipe(toClient.Reader, fromClient.Writer));
        return (new ClientConnection(i, "c" + i, transport, metrics, new GatewayOptions()), toClient);
    }

    private static async Task ReadExactlyAsync(Pipe pipe, long bytes, CancellationToken ct)
    {
        long seen = 0;
        while (seen < bytes)
        {
            var r = await pipe.Reader.ReadAsync(ct);
            seen += r.Buffer.Length;
            pipe.Reader.AdvanceTo(r.Buffer.End);
        }
        Assert.Equal(bytes, seen);
    }

    [Fact]
    public async Task FanoutsFromSeveralThreads_InAndOutOfScope_EveryFrameIsWritten()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());
        var wires = Enumerable.Range(1, 200).Select(i => Connect(metrics, i)).ToArray();
        const int Pushes = 25;
        var writers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var p = 0; p < Pushes; p++)
            {
                // Half the pushes as a fan-out (pumps start when the loop ends), half one by one (each starts at once).
                using var scope = (p + t) % 2 == 0 ? SendScheduler.BeginFanout() : default;
                foreach (var (c, _) in wires)
                {
                    Assert.True(c.Send(Frame, inline: false));
                }
            }
        }, cts.Token)).ToArray();
        await Task.WhenAll(writers).WaitAsync(cts.Token);
        await Task.WhenAll(wires.Select(w => ReadExactlyAsync(w.ToClient, 4L * Pushes * Frame.Length, cts.Token))).WaitAsync(cts.Token);
        Assert.Equal(wires.Length * 4L * Pushes, Interlocked.Read(ref metrics.MessagesOut));
        Assert.All(wires, w => Assert.Equal(0, w.Connection.QueuedBytes));
    }

    [Fact]
    public async Task AFanoutScope_WritesEachConnectionsFramesTogether()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());
        var wires = Enumerable.Range(1, 50).Select(i => Connect(metrics, i)).ToArray();
        using (SendScheduler.BeginFanout())
        {
            // Three pushes inside one scope: no pump starts from this thread before the scope ends.
            for (var p = 0; p < 3; p++)
            {
                foreach (var (c, _) in wires)
                {
                    Assert.True(c.Send(Frame, inline: false));
                }
            }
        }
        await Task.WhenAll(wires.Select(w => ReadExactlyAsync(w.ToClient, 3L * Frame.Length, cts.Token))).WaitAsync(cts.Token);
        Assert.Equal(wires.Length * 3L, Interlocked.Read(ref metrics.MessagesOut));
        // One write per connection, carrying its three frames.
        Assert.Equal(wires.Length, Interlocked.Read(ref metrics.Writes));
    }
}

[CollectionDefinition(nameof(SendSchedulerTests), DisableParallelization = true)]
public sealed class SendSchedulerCollection;
