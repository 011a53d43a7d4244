using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Push.Gateway;
using Push.Gateway.Http;
using Push.Hosting;
using Push.Hosting.Cluster;

namespace Push.Cli.Hosting;

/// <summary>What a started host does once it listens: its advertised address, the "push: ..." lines, the ready file.</summary>
internal static partial class PushHost
{
    private static void OnStarted(WebApplication app, Roles roles, BoundEndpoints endpoints, string? readyFile)
    {
        var cluster = app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value;
        var grpc = Url(endpoints.Grpc!, endpoints.GrpcTls);
        var advertise = cluster.Advertise ?? Environment.GetEnvironmentVariable("PUSH_ADVERTISE");
        if (string.IsNullOrEmpty(advertise))
        {
            var ep = endpoints.Grpc!.IPEndPoint!;
            advertise = ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any)
                ? $"{(endpoints.GrpcTls ? "https" : "http")}://{Environment.GetEnvironmentVariable("POD_IP") ?? "127.0.0.1"}:{ep.Port}"
                : grpc;
        }
        if (cluster.UseOwnAddressAsRegistry)
        {
            cluster.Registry.Add(advertise);
        }
        app.Services.GetRequiredService<AdvertisedAddress>().Set(advertise);
        var ws = endpoints.Ws is null ? null : Url(endpoints.Ws, endpoints.WsTls);
        var http = endpoints.Http is null ? null : Url(endpoints.Http, false);
        var api = endpoints.Api is null ? null : Url(endpoints.Api, endpoints.ApiTls);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("push");
        if (ws is not null)
        {
            var wsUrl = ws.Replace("http", "ws", StringComparison.Ordinal);
            Announce(logger, $"push: WebSocket clients: {wsUrl}/" + (app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.DemoPage ? $"   demo page: {ws}/" : string.Empty));
        }
        Announce(logger, $"push: gRPC ({RoleNames(roles)}): {grpc}   advertised as {advertise}");
        if (http is not null)
        {
            Announce(logger, $"push: health and metrics: {http}/healthz/ready  {http}/metrics");
        }
        if (api is not null)
        {
            Announce(logger, $"push: HTTP/JSON control API: {api}/v1/...   description: {api}{HttpApi.OpenApiPath}");
        }
        // The gRPC port is what needs guarding (the WebSocket port is public by design): a secret or client certificates.
        if (cluster.MemberSecrets.IsEmpty && cluster.ControlSecrets.IsEmpty && !endpoints.GrpcMutualTls && IsPublic(endpoints.Grpc))
        {
            InsecureBind(logger);
        }
        if (roles.HasFlag(Roles.Gateway) && !cluster.MemberSecrets.IsEmpty && cluster.ControlSecrets.IsEmpty)
        {
            NoControlSecret(logger);
        }
        if (readyFile is not null)
        {
            var json = JsonSerializer.Serialize(new Dictionary<string, object?> { ["ws"] = ws, ["grpc"] = grpc, ["http"] = http, ["api"] = api, ["pid"] = Environment.ProcessId, ["advertise"] = advertise });
            File.WriteAllText(readyFile + ".tmp", json);
            File.Move(readyFile + ".tmp", readyFile, overwrite: true);
        }
    }

    private static bool IsPublic(ListenOptions? lo) => lo?.IPEndPoint is { } ep && !IPAddress.IsLoopback(ep.Address);
}
