using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Push.Bench.Baseline;

/// <summary>
/// The baseline server process (<c>Push.Bench baseline --ready-file F</c>):
/// Kestrel with a WebSocket port (HTTP/1.1, any path upgrades) and a gRPC
/// port (h2c), both on 127.0.0.1 with ports chosen by the OS. Writes the
/// ready file in the same shape as <c>push start</c> once listening, and
/// exits when its standard input closes (so it never outlives the driver).
/// </summary>
public static class BaselineServer
{
    public static async Task<int> RunAsync(string readyFile)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<BaselineHub>();
        ListenOptions? wsListen = null;
        ListenOptions? grpcListen = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxConcurrentConnections = null;
            k.Limits.MaxConcurrentUpgradedConnections = null;
            k.Listen(IPAddress.Loopback, 0, lo =>
            {
                lo.Protocols = HttpProtocols.Http1;
                wsListen = lo;
            });
            k.Listen(IPAddress.Loopback, 0, lo =>
            {
                lo.Protocols = HttpProtocols.Http2;
                grpcListen = lo;
            });
        });
        var app = builder.Build();
        var hub = app.Services.GetRequiredService<BaselineHub>();
        app.UseWebSockets();
        app.Use(async (context, next) =>
        {
            if (context.WebSockets.IsWebSocketRequest)
            {
                using var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
                await hub.RunAsync(socket).ConfigureAwait(false);
                return;
            }
            await next(context).ConfigureAwait(false);
        });
        app.MapGrpcService<BaselineGateway>();
        await app.StartAsync().ConfigureAwait(false);

        await WriteReadyAsync(readyFile, $"http://{wsListen!.IPEndPoint}", $"http://{grpcListen!.IPEndPoint}").ConfigureAwait(false);
        await UntilInputClosesAsync().ConfigureAwait(false);
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

    /// <summary>Writes the ready file in the shape <c>push start</c> writes it (ws, grpc, pid).</summary>
    public static async Task WriteReadyAsync(string readyFile, string ws, string grpc)
    {
        string json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["ws"] = ws,
            ["grpc"] = grpc,
            ["pid"] = Environment.ProcessId,
        });
        string tmp = readyFile + ".tmp";
        await File.WriteAllTextAsync(tmp, json).ConfigureAwait(false);
        File.Move(tmp, readyFile, overwrite: true);
    }

    /// <summary>Returns once the parent closes our standard input (or it fails).</summary>
    public static Task UntilInputClosesAsync() => Task.Run(() =>
    {
        try
        {
            while (Console.In.ReadLine() is not null)
            {
            }
        }
        catch (IOException)
        {
        }
    });
}
