using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Push.Testing;
using Push.V1;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>
/// Unauthenticated callers cannot make a gateway read their bodies: 16 concurrent 60 MB SendToAll calls without
/// credentials are refused from their headers. Asserted on the bytes the callers managed to put on the wire (what the
/// gateway had to take in), which is the same on any machine, and on the gateway's live managed heap after a full GC;
/// its RSS growth is reported only (it depends on the machine's cache size and GC budgets).
/// </summary>
[Trait("Category", "Integration")]
[Collection(SecretClusterCollection.Name)]
public sealed class AuthFloodTests(SecretClusterFixture cluster, ITestOutputHelper output)
{
    private const int Calls = 16;
    private const int PayloadBytes = 60 * 1024 * 1024;

    [Fact]
    public async Task Unauthenticated_HugeCalls_AreRefusedBeforeTheirBodies()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        var heapBefore = await ManagedHeap.LiveBytesAfterFullGcAsync(cluster.Gateway1.Pid, ct);
        var rssBefore = Probe.RssMiB(cluster.Gateway1.Pid);
        long sent = 0;
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(context.DnsEndPoint, token);
                return new CountingStream(new NetworkStream(socket, ownsSocket: true), n => Interlocked.Add(ref sent, n));
            },
        };
        using var channel = GrpcChannel.ForAddress(cluster.Gateway1.GrpcAddress, new GrpcChannelOptions { HttpHandler = handler, MaxSendMessageSize = null });
        var client = new GatewayService.GatewayServiceClient(channel);
        var payload = new string('x', PayloadBytes);

        var calls = Enumerable.Range(0, Calls).Select(async _ =>
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => client.SendToAllAsync(new SendToAllRequest { Text = payload }, cancellationToken: ct).ResponseAsync);
            return ex;
        }).ToArray();
        var results = await Task.WhenAll(calls);

        Assert.All(results, ex => Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode));
        var rssAfter = Probe.RssMiB(cluster.Gateway1.Pid);
        var heapAfter = await ManagedHeap.LiveBytesAfterFullGcAsync(cluster.Gateway1.Pid, ct);
        output.WriteLine($"{Calls} x {PayloadBytes / (1024 * 1024)} MB unauthenticated: bytes on the wire {sent / 1024.0:F1} KiB of {(double)Calls * PayloadBytes / (1024 * 1024):F0} MiB attempted; gateway live heap after a full GC {ManagedHeap.MiB(heapBefore)} -> {ManagedHeap.MiB(heapAfter)}; RSS (information only) {rssBefore:F0} -> {rssAfter:F0} MiB");
        // Each refused stream may have had its flow-control window (Kestrel: 768 KiB) in flight, no more.
        Assert.True(sent < Calls * 2L * 1024 * 1024, $"the callers put {sent} bytes on the wire: bodies were read");
        // Nothing is retained for the refused calls (whether bodies were read is judged by the bytes on the wire above).
        Assert.True(heapAfter - heapBefore < 16L * 1024 * 1024, $"the gateway's live heap grew by {ManagedHeap.MiB(heapAfter - heapBefore)}");
        // The gateway still serves authenticated callers.
        Assert.Equal(3, (await cluster.Control1.GetStatusAsync(ct)).Reach.GatewaysAnswered);
    }

    /// <summary>Counts the bytes written to the connection.</summary>
    private sealed class CountingStream(Stream inner, Action<int> written) : Stream
    {
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            written(count);
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            written(buffer.Length);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
