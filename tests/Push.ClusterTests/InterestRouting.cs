using System.Collections.Concurrent;
using System.Net.WebSockets;
using Push.Testing;

namespace Push.ClusterTests;

/// <summary>Helpers of the interest-routing tests: waiting for the mesh to be in sync, clients that record what they got.</summary>
internal static class InterestRouting
{
    public const string PeersInSync = "push_gateway_routing_peers_in_sync";
    public const string GroupPushes = "push_gateway_pushes_total";
    public const string Decisions = "push_gateway_routing_peer_decisions_total";

    /// <summary>Waits until every live gateway's view of every other live gateway is in sync.</summary>
    public static Task WaitInSyncAsync(ClusterFixture cluster, CancellationToken ct, TimeSpan? within = null)
    {
        var live = cluster.Gateways.Where(g => !g.HasExited).ToArray();
        return Cluster.WaitUntilAsync(async () =>
        {
            foreach (var g in live)
            {
                if (await Cluster.MetricAsync(g, PeersInSync, ct: ct) != live.Length - 1)
                {
                    return false;
                }
            }
            return true;
        }, () => $"every gateway's interest view of the {live.Length - 1} others is in sync\n{cluster.Logs()}", ct, within ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>Group pushes the gateway has run locally (forwarded to it or called on it).</summary>
    public static Task<double> GroupPushesAsync(PushProcess g, CancellationToken ct) => Cluster.MetricAsync(g, GroupPushes, "push_target=\"group\"", ct);
}

/// <summary>A client that keeps every "P:n" text it receives (n = push number), read in the background.</summary>
internal sealed class RecordingClient : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;

    private RecordingClient(TestWebSocket ws, int gateway)
    {
        Socket = ws;
        Gateway = gateway;
        _reader = Task.Run(ReadAsync);
    }

    public TestWebSocket Socket { get; }
    public int Gateway { get; }
    public string ClientId => Socket.ClientId;
    public ConcurrentDictionary<long, byte> Received { get; } = new();
    public int Duplicates;

    public static async Task<RecordingClient> ConnectAsync(ClusterFixture cluster, int gateway, CancellationToken ct)
        => new(await TestWebSocket.ConnectAsync(cluster.Gateways[gateway].Ws, cancellationToken: ct), gateway);

    private async Task ReadAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                ReceivedMessage m;
                try
                {
                    m = await Socket.ReceiveAsync(_stop.Token);
                }
                catch (TimeoutException)
                {
                    continue; // idle for a while: keep reading
                }
                if (m.Type == WebSocketMessageType.Text && m.Text.StartsWith("P:", StringComparison.Ordinal)
                    && !Received.TryAdd(long.Parse(m.Text.AsSpan(2), System.Globalization.CultureInfo.InvariantCulture), 0))
                {
                    Interlocked.Increment(ref Duplicates);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or InvalidOperationException or System.Threading.Channels.ChannelClosedException)
        {
            // closed (the test ends, or its gateway was killed)
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reader;
        await Socket.DisposeAsync();
        _stop.Dispose();
    }
}
