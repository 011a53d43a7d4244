using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Push.Bench.Baseline;

namespace Push.Bench.Limit;

/// <summary>
/// The limit server process (<c>Push.Bench limit --ready-file F</c>): what this machine does with a broadcaster
/// written for the job. Kestrel with a WebSocket port served by a <see cref="LimitConnectionHandler"/> (hand-written
/// upgrade and framing on the transport pipes, no HTTP request kept) and an h2c gRPC port (<see cref="LimitGateway"/>).
/// Same ready file and lifetime as the baseline.
/// </summary>
public static class LimitServer
{
    public static async Task<int> RunAsync(string readyFile)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc(g => g.MaxReceiveMessageSize = 64 << 20);
        builder.Services.AddSingleton<LimitHub>();
        ListenOptions? wsListen = null;
        ListenOptions? grpcListen = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxConcurrentConnections = null;
            k.Limits.MaxConcurrentUpgradedConnections = null;
            k.Listen(IPAddress.Loopback, 0, lo =>
            {
                lo.UseConnectionHandler<LimitConnectionHandler>();
                wsListen = lo;
            });
            k.Listen(IPAddress.Loopback, 0, lo =>
            {
                lo.Protocols = HttpProtocols.Http2;
                grpcListen = lo;
            });
        });
        var app = builder.Build();
        app.MapGrpcService<LimitGateway>();
        await app.StartAsync().ConfigureAwait(false);
        await BaselineServer.WriteReadyAsync(readyFile, $"http://{wsListen!.IPEndPoint}", $"http://{grpcListen!.IPEndPoint}").ConfigureAwait(false);
        await BaselineServer.UntilInputClosesAsync().ConfigureAwait(false);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            await app.StopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        return 0;
    }
}
