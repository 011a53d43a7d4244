using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Push.Gateway.Transport;

namespace Push.UnitTests.Transport;

/// <summary>The lean transport of the WebSocket port over real loopback sockets, inside a real Kestrel server.</summary>
public sealed class LeanTransportTests
{
    [Fact]
    public async Task Bind_OnlyTheLeanEndPoint_OtherEndpointsKeepKestrelsTransport()
    {
        await using var server = await LeanTransportServer.StartAsync(DrainAsync);
        using var lean = await server.ConnectAsync();
        Assert.IsType<LeanConnection>(await server.AcceptedAsync());
        using var plain = await server.ConnectAsync(server.Plain);
        Assert.NotEqual(typeof(LeanConnection), await server.PlainTypes.Reader.ReadAsync(TestTimeouts.Token()));
    }

    [Fact]
    public async Task Echo_RoundTrip_IdleConnectionHoldsNoBuffer()
    {
        var echoed = Channel.CreateUnbounded<long>();
        await using var server = await LeanTransportServer.StartAsync(c => EchoAsync(c, echoed.Writer));
        using var client = await server.ConnectAsync();
        var connection = (LeanConnection)await server.AcceptedAsync();
        var data = Pattern(10_000);
        await client.SendAsync(data, TestTimeouts.Token());
        Assert.Equal(data, await ReceiveExactlyAsync(client, data.Length));
        while (await echoed.Reader.ReadAsync(TestTimeouts.Token()) < data.Length)
        {
        }
        Assert.Equal(0, connection.BufferedBytes); // consumed and flushed: both buffers went back to the pool
        Assert.Equal(client.LocalEndPoint, connection.RemoteEndPoint);
        Assert.Equal(server.Lean, connection.LocalEndPoint);
    }

    [Fact]
    public async Task Read_UnconsumedBytesGrowTheBuffer_UpToTheBoundThenAbort()
    {
        var outcome = Channel.CreateUnbounded<string>();
        await using var server = await LeanTransportServer.StartAsync(async c =>
        {
            // Consumes nothing until it holds `need` bytes (as a frame parser waits for a whole frame).
            var input = c.Transport.Input;
            var need = 100_000;
            try
            {
                while (true)
                {
                    var r = await input.ReadAsync();
                    if (r.Buffer.Length >= need)
                    {
                        outcome.Writer.TryWrite("whole " + r.Buffer.Length);
                        input.AdvanceTo(r.Buffer.GetPosition(need));
                        need = 400_000; // more than the bound (Gateway:MaxMessageSize 64 KiB + 64 KiB slack)
                        continue;
                    }
                    input.AdvanceTo(r.Buffer.Start, r.Buffer.End);
                    if (r.IsCompleted)
                    {
                        outcome.Writer.TryWrite("completed");
                        return;
                    }
                }
            }
            catch (ConnectionAbortedException ex)
            {
                outcome.Writer.TryWrite("aborted " + ex.Message);
            }
        });
        using var client = await server.ConnectAsync();
        await client.SendAsync(Pattern(100_000), TestTimeouts.Token());
        Assert.Equal("whole 100000", await outcome.Reader.ReadAsync(TestTimeouts.Token()));
        _ = client.SendAsync(Pattern(400_000), TestTimeouts.Token()).AsTask();
        Assert.StartsWith("aborted more than", await outcome.Reader.ReadAsync(TestTimeouts.Token()));
    }

    [Fact]
    public async Task Flush_SlowReader_WaitsUntilTheKernelTookTheBytes()
    {
        const int Chunk = 64 * 1024;
        const int Chunks = 64; // 4 MiB: far more than the socket buffers hold
        var blocked = new TaskCompletionSource<(long Written, int Held)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await LeanTransportServer.StartAsync(async c =>
        {
            var output = c.Transport.Output;
            var connection = (LeanConnection)c;
            long written = 0;
            for (var i = 0; i < Chunks; i++)
            {
                output.Write(Pattern(Chunk, i * Chunk));
                written += Chunk;
                var flush = output.FlushAsync();
                if (!flush.IsCompleted)
                {
                    blocked.TrySetResult((written, connection.BufferedBytes));
                }
                var result = await flush;
                Assert.False(result.IsCompleted);
            }
            finished.TrySetResult();
        });
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 * 1024 };
        await client.ConnectAsync(server.Lean, TestTimeouts.Token());
        var (writtenWhenBlocked, held) = await blocked.Task.WaitAsync(TestTimeouts.Default);
        Assert.True(writtenWhenBlocked < (long)Chunk * Chunks, "the writer must wait for the reader before it wrote everything");
        Assert.True(held <= 2 * Chunk, $"the writer holds at most the chunk being sent, not the backlog ({held} bytes)");
        Assert.False(finished.Task.IsCompleted);
        var all = await ReceiveExactlyAsync(client, Chunk * Chunks);
        Assert.Equal(Pattern(Chunk * Chunks), all); // every byte, in order
        await finished.Task.WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task HalfClose_ClientEndsItsSide_ReadCompletesAndTheServerStillWrites()
    {
        await using var server = await LeanTransportServer.StartAsync(async c =>
        {
            var input = c.Transport.Input;
            long got = 0;
            while (true)
            {
                var r = await input.ReadAsync();
                got += r.Buffer.Length;
                input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    break;
                }
            }
            await c.Transport.Output.WriteAsync(System.Text.Encoding.ASCII.GetBytes("got " + got));
        });
        using var client = await server.ConnectAsync();
        await client.SendAsync(Pattern(5000), TestTimeouts.Token());
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("got 5000", System.Text.Encoding.ASCII.GetString(await ReceiveToEndAsync(client)));
    }

    [Fact]
    public async Task Return_UnflushedBytesGoOutBeforeTheFin()
    {
        await using var server = await LeanTransportServer.StartAsync(c =>
        {
            c.Transport.Output.Write(Pattern(3000)); // no flush: the transport sends it when the connection ends
            return Task.CompletedTask;
        });
        using var client = await server.ConnectAsync();
        Assert.Equal(Pattern(3000), await ReceiveToEndAsync(client));
    }

    [Fact]
    public async Task Abort_PendingReadFailsWithTheReason_ConnectionClosedFires_PeerSeesTheEnd()
    {
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await LeanTransportServer.StartAsync(async c =>
        {
            try
            {
                var read = c.Transport.Input.ReadAsync();
                reading.TrySetResult();
                await read;
                outcome.TrySetResult("read returned");
            }
            catch (ConnectionAbortedException ex)
            {
                outcome.TrySetResult(ex.Message);
            }
        });
        using var client = await server.ConnectAsync();
        var connection = await server.AcceptedAsync();
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionClosed.Register(() => closed.TrySetResult());
        await reading.Task.WaitAsync(TestTimeouts.Default);
        connection.Abort(new ConnectionAbortedException("test abort"));
        Assert.Equal("test abort", await outcome.Task.WaitAsync(TestTimeouts.Default));
        await closed.Task.WaitAsync(TestTimeouts.Default);
        Assert.Empty(await ReceiveToEndAsync(client));
        var flush = await connection.Transport.Output.WriteAsync(new byte[] { 1 });
        Assert.True(flush.IsCompleted); // writes after the end report it, like a completed pipe
    }

    [Fact]
    public async Task Reset_ByThePeer_ReadEndsAndConnectionClosedFires()
    {
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await LeanTransportServer.StartAsync(async c =>
        {
            try
            {
                while (true)
                {
                    var r = await c.Transport.Input.ReadAsync();
                    c.Transport.Input.AdvanceTo(r.Buffer.End);
                    if (r.IsCompleted)
                    {
                        outcome.TrySetResult("completed");
                        return;
                    }
                }
            }
            catch (ConnectionResetException)
            {
                outcome.TrySetResult("reset");
            }
        });
        var client = await server.ConnectAsync();
        var connection = await server.AcceptedAsync();
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionClosed.Register(() => closed.TrySetResult());
        client.LingerState = new LingerOption(true, 0);
        client.Close(); // RST
        Assert.Contains(await outcome.Task.WaitAsync(TestTimeouts.Default), new[] { "reset", "completed" });
        await closed.Task.WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task ReadToken_CancelsTheWait_TheConnectionGoesOn()
    {
        var step = Channel.CreateUnbounded<string>();
        await using var server = await LeanTransportServer.StartAsync(async c =>
        {
            var input = c.Transport.Input;
            using (var cts = new CancellationTokenSource())
            {
                var read = input.ReadAsync(cts.Token);
                cts.Cancel();
                try
                {
                    await read;
                    step.Writer.TryWrite("read returned");
                }
                catch (OperationCanceledException)
                {
                    step.Writer.TryWrite("canceled");
                }
            }
            var pending = input.ReadAsync();
            input.CancelPendingRead();
            var r = await pending;
            step.Writer.TryWrite(r.IsCanceled ? "read canceled" : "not canceled");
            input.AdvanceTo(r.Buffer.Start);
            r = await input.ReadAsync();
            step.Writer.TryWrite(System.Text.Encoding.ASCII.GetString(r.Buffer.ToArray()));
            input.AdvanceTo(r.Buffer.End);
        });
        using var client = await server.ConnectAsync();
        Assert.Equal("canceled", await step.Reader.ReadAsync(TestTimeouts.Token()));
        Assert.Equal("read canceled", await step.Reader.ReadAsync(TestTimeouts.Token()));
        await client.SendAsync("still here"u8.ToArray(), TestTimeouts.Token());
        Assert.Equal("still here", await step.Reader.ReadAsync(TestTimeouts.Token()));
    }

    [Fact]
    public async Task Tls_UseHttpsInFront_EchoesOverTheLeanTransport()
    {
        using var cert = LeanTransportServer.SelfSigned();
        var echoed = Channel.CreateUnbounded<long>();
        await using var server = await LeanTransportServer.StartAsync(c => EchoAsync(c, echoed.Writer), tls: cert);
        using var client = await server.ConnectAsync();
        await using var tls = new SslStream(new NetworkStream(client), false, (_, presented, _, _) => presented is not null && presented.GetCertHashString() == cert.GetCertHashString());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1" }, TestTimeouts.Token());
        Assert.IsType<LeanConnection>(await server.AcceptedAsync()); // the handler runs once TLS is up
        var data = Pattern(50_000);
        await tls.WriteAsync(data, TestTimeouts.Token());
        var back = new byte[data.Length];
        await tls.ReadExactlyAsync(back, TestTimeouts.Token());
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task ConnectionLimit_KestrelsMaxConcurrentConnections_RefusesTheNextOne()
    {
        await using var server = await LeanTransportServer.StartAsync(DrainAsync, kestrel: k => k.Limits.MaxConcurrentConnections = 1);
        using var first = await server.ConnectAsync();
        await server.AcceptedAsync();
        using var second = await server.ConnectAsync();
        Assert.Empty(await ReceiveToEndAsync(second)); // closed by Kestrel before any handler runs
        await first.SendAsync(new byte[] { 1 }, TestTimeouts.Token());
        first.Shutdown(SocketShutdown.Send);
        Assert.Empty(await ReceiveToEndAsync(first)); // the first one lived on until it ended itself
    }

    [Fact]
    public async Task Stop_IdleConnectionsAreAbortedAfterTheShutdownTimeout_NoNewOnesAccepted()
    {
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await LeanTransportServer.StartAsync(async c =>
        {
            try
            {
                var r = await c.Transport.Input.ReadAsync();
                outcome.TrySetResult(r.IsCompleted ? "completed" : "data");
            }
            catch (ConnectionAbortedException)
            {
                outcome.TrySetResult("aborted");
            }
        }, shutdown: TimeSpan.FromSeconds(1));
        using var client = await server.ConnectAsync();
        await server.AcceptedAsync();
        var lean = server.Lean;
        await server.StopAsync();
        Assert.Equal("aborted", await outcome.Task.WaitAsync(TestTimeouts.Default));
        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await Assert.ThrowsAsync<SocketException>(async () => await late.ConnectAsync(lean, TestTimeouts.Token()));
    }

    private static async Task DrainAsync(ConnectionContext c)
    {
        while (true)
        {
            var r = await c.Transport.Input.ReadAsync();
            c.Transport.Input.AdvanceTo(r.Buffer.End);
            if (r.IsCompleted)
            {
                return;
            }
        }
    }

    private static async Task EchoAsync(ConnectionContext c, ChannelWriter<long> echoed)
    {
        var input = c.Transport.Input;
        var output = c.Transport.Output;
        long total = 0;
        while (true)
        {
            var r = await input.ReadAsync();
            foreach (var segment in r.Buffer)
            {
                output.Write(segment.Span);
            }
            await output.FlushAsync();
            total += r.Buffer.Length;
            input.AdvanceTo(r.Buffer.End);
            echoed.TryWrite(total);
            if (r.IsCompleted)
            {
                return;
            }
        }
    }

    private static byte[] Pattern(int length, int offset = 0)
    {
        var b = new byte[length];
        for (var i = 0; i < length; i++)
        {
            b[i] = (byte)((i + offset) * 7 % 251);
        }
        return b;
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket s, int length)
    {
        var b = new byte[length];
        var got = 0;
        while (got < length)
        {
            var n = await s.ReceiveAsync(b.AsMemory(got), SocketFlags.None, TestTimeouts.Token());
            Assert.True(n > 0, $"the connection ended after {got} of {length} bytes");
            got += n;
        }
        return b;
    }

    private static async Task<byte[]> ReceiveToEndAsync(Socket s)
    {
        var all = new ArrayBufferWriter<byte>();
        while (true)
        {
            int n;
            try
            {
                n = await s.ReceiveAsync(all.GetMemory(4096), SocketFlags.None, TestTimeouts.Token());
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                return all.WrittenSpan.ToArray();
            }
            if (n == 0)
            {
                return all.WrittenSpan.ToArray();
            }
            all.Advance(n);
        }
    }
}
