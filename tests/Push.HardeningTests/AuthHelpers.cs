using System.Net;
using System.Net.WebSockets;
using Grpc.Core;
using Push.Control;
using Push.Testing;

namespace Push.HardeningTests;

/// <summary>Helpers shared by the Auth*, Tls* and Limit* tests.</summary>
internal static class AuthHelpers
{
    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(static b => b, static b => b);

    /// <summary>grpc.health.v1.Health/Check with an empty request, called without any credentials.</summary>
    public static readonly Method<byte[], byte[]> HealthCheck = new(MethodType.Unary, "grpc.health.v1.Health", "Check", Bytes, Bytes);

    /// <summary>Polls GetStatus until <paramref name="gateways"/> gateways each have <paramref name="workers"/> worker streams open.</summary>
    public static async Task WaitWorkerStreamsAsync(PushControlClient control, int gateways, int workers, CancellationToken ct, Func<string>? diagnostics = null)
    {
        var last = "no answer";
        for (var i = 0; i < 300; i++)
        {
            try
            {
                var status = await control.GetStatusAsync(ct);
                if (status.Gateways.Count == gateways && status.Gateways.All(g => g.WorkersConnected == workers))
                {
                    return;
                }
                last = status.ToString();
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                last = ex.Message;
            }
            await Task.Delay(50, ct);
        }
        throw new TimeoutException($"expected {gateways} gateway(s) with {workers} worker stream(s); last status: {last}\n{diagnostics?.Invoke()}");
    }

    /// <summary>Starts `push start ARGS` and checks through the control API that its gateway has its worker stream open.</summary>
    public static async Task<PushProcess> StartSuiteAsync(IEnumerable<string> args, CancellationToken ct, Func<PushControlClient>? control = null)
    {
        var suite = await PushProcess.StartAsync("start", args, cancellationToken: ct);
        try
        {
            using var client = control?.Invoke() ?? suite.Control();
            await WaitWorkerStreamsAsync(client, gateways: 1, workers: 1, ct, () => suite.Output);
            return suite;
        }
        catch
        {
            await suite.DisposeAsync();
            throw;
        }
    }

    /// <summary>Attempts a WebSocket handshake; returns the HTTP status of the answer (101 when it was accepted).</summary>
    public static async Task<(HttpStatusCode Status, ClientWebSocket Socket)> HandshakeAsync(Uri uri, Action<ClientWebSocketOptions>? configure, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        configure?.Invoke(socket.Options);
        try
        {
            await socket.ConnectAsync(uri, ct);
        }
        catch (WebSocketException ex) when (socket.HttpStatusCode != 0)
        {
            _ = ex; // the server answered with an HTTP status other than 101
        }
        return (socket.HttpStatusCode, socket);
    }

    /// <summary>Connects <paramref name="count"/> clients one after the other; returns each handshake's time (to 101) in ms, sorted.</summary>
    public static async Task<double[]> MeasureHandshakesAsync(Func<int, Uri> uri, int count, CancellationToken ct)
    {
        var times = new double[count];
        for (var i = 0; i < count; i++)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var (status, socket) = await HandshakeAsync(uri(i), null, ct);
            times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            socket.Abort();
            socket.Dispose();
            Assert.Equal(HttpStatusCode.SwitchingProtocols, status);
        }
        Array.Sort(times);
        return times;
    }

    public static string Percentiles(double[] sorted) => $"p50 {sorted[sorted.Length / 2]:F2} ms, p90 {sorted[sorted.Length * 9 / 10]:F2} ms, max {sorted[^1]:F2} ms";

    /// <summary>The handshake's HTTP status; the socket is disposed.</summary>
    public static async Task<HttpStatusCode> HandshakeStatusAsync(Uri uri, Action<ClientWebSocketOptions>? configure, CancellationToken ct)
    {
        var (status, socket) = await HandshakeAsync(uri, configure, ct);
        socket.Abort();
        socket.Dispose();
        return status;
    }
}
