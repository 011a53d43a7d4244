using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Push.Control;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Cli.Commands;

/// <summary>`push status` and `push send`: thin shells over the control API.</summary>
internal static class ShellCommands
{
    private static string Address(CliArgs cli) => cli.Get("grpc") ?? Env("PUSH_GRPC") ?? "http://127.0.0.1:8283";

    /// <summary>One line naming the address and what to check, for a call that failed.</summary>
    private static string Failure(string command, CliArgs cli, RpcException ex)
    {
        var address = Address(cli);
        var from = cli.Has("grpc") ? "--grpc" : Env("PUSH_GRPC") is not null ? "PUSH_GRPC" : "the default; set --grpc or PUSH_GRPC";
        return ex.StatusCode switch
        {
            StatusCode.Unavailable => $"push {command}: no gateway answers at {address} ({from}): {ex.StatusCode}: {ex.Status.Detail} Check that a gateway runs there and that this is its gRPC port (--grpc of push start/gateway), and http:// vs https://",
            StatusCode.Unauthenticated => $"push {command}: {address} refused the call: {ex.StatusCode}: {ex.Status.Detail}; give the cluster's control or member secret with --secret (or PUSH_CONTROL_SECRET / PUSH_SECRET)",
            StatusCode.PermissionDenied => $"push {command}: {address} denied the call: {ex.StatusCode}: {ex.Status.Detail}",
            StatusCode.DeadlineExceeded => $"push {command}: {address} did not answer within 10 s ({from}); is it a gateway's gRPC port?",
            _ => $"push {command}: {address}: {ex.StatusCode}: {ex.Status.Detail}",
        };
    }

    private static PushControlClient Client(CliArgs cli)
    {
        var address = Address(cli);
        // Inside a pod both variables may be set: the backend credential is enough for status and send.
        var secret = cli.Get("secret") ?? Env("PUSH_CONTROL_SECRET") ?? Env("PUSH_SECRET");
        var options = new PushControlOptions { Secret = Push.Hosting.Security.SecretList.Parse(secret).Current, Timeout = TimeSpan.FromSeconds(10) };
        var tls = new ClusterOptions
        {
            TlsCa = cli.Get("tls-ca") ?? Environment.GetEnvironmentVariable("PUSH_TLS_CA"),
            TlsClientCert = cli.Get("tls-client-cert") ?? Environment.GetEnvironmentVariable("PUSH_TLS_CLIENT_CERT"),
            TlsClientKey = cli.Get("tls-client-key") ?? Environment.GetEnvironmentVariable("PUSH_TLS_CLIENT_KEY"),
        };
        if (tls.TlsCa is null && tls.TlsClientCert is null)
        {
            return new PushControlClient(address, options);
        }
        // A private CA or a client certificate (mTLS): the suite's own channel, which knows both. The channel lives as long as the command.
        var channel = PushChannel.Create(address, tls);
        return new PushControlClient(channel.CreateCallInvoker(), options);
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

    public static async Task<int> StatusAsync(CliArgs cli)
    {
        using var client = Client(cli);
        GetStatusResponse status;
        try
        {
            status = await client.GetStatusAsync().ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            Console.Error.WriteLine(Failure("status", cli, ex));
            return 1;
        }
        if (cli.Has("json"))
        {
            Console.WriteLine(JsonFormatter.Default.Format(status));
            return 0;
        }
        Console.WriteLine($"Gateways: {status.Gateways.Count} answering of {status.Reach.GatewaysTotal}" + (status.Reach.UnreachableGatewayIds.Count > 0 ? $" (unreachable: {string.Join(", ", status.Reach.UnreachableGatewayIds)})" : string.Empty));
        Console.WriteLine($"{"gateway",-18} {"address",-28} {"conns",8} {"groups",7} {"uids",7} {"msgs in",10} {"msgs out",10} {"dropped",8} {"workers",7} {"uptime",10} state");
        foreach (var g in status.Gateways)
        {
            Console.WriteLine($"{g.Id,-18} {g.Address,-28} {g.Connections,8} {g.Groups,7} {g.Uids,7} {g.MessagesIn,10} {g.MessagesOut,10} {g.MessagesDropped,8} {g.WorkersConnected,7} {FormatUptime(g.Uptime.ToTimeSpan()),10} {(g.Draining ? "draining" : "serving")}");
        }
        Console.WriteLine($"Totals: {status.Gateways.Sum(g => g.Connections)} connections, {status.Gateways.Sum(g => g.MessagesIn)} messages in, {status.Gateways.Sum(g => g.MessagesOut)} out");
        Console.WriteLine($"Workers: {status.Workers.Count}");
        foreach (var w in status.Workers)
        {
            Console.WriteLine($"  {w.Id,-18} {w.Address}");
        }
        return 0;
    }

    private static string FormatUptime(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : $"{t.Minutes}m{t.Seconds:00}s";

    public static async Task<int> SendAsync(CliArgs cli)
    {
        var text = cli.Get("text");
        if (text is null)
        {
            Console.Error.WriteLine("push send: --text is required, e.g. push send --group room1 --text hello; see push send --help");
            return 2;
        }
        var item = new BatchItem();
        if (cli.Has("binary"))
        {
            try
            {
                item.Binary = ByteString.FromBase64(text);
            }
            catch (FormatException)
            {
                Console.Error.WriteLine("push send: with --binary, --text is the base64 of the bytes (e.g. --binary --text AAEC); see push send --help");
                return 2;
            }
        }
        else
        {
            item.Text = text;
        }
        var targets = 0;
        if (cli.Get("client") is { } id)
        {
            item.ClientId = id;
            targets++;
        }
        if (cli.All("uid").Count > 0)
        {
            item.Uids.AddRange(cli.All("uid"));
            targets++;
        }
        if (cli.All("group").Count > 0)
        {
            item.Groups.AddRange(cli.All("group"));
            targets++;
        }
        if (cli.Has("all"))
        {
            item.All = true;
            targets++;
        }
        if (targets != 1)
        {
            Console.Error.WriteLine("push send: name exactly one target: --client ID, --uid UID, --group GROUP or --all; see push send --help");
            return 2;
        }
        using var client = Client(cli);
        try
        {
            var r = await client.Raw.SendBatchAsync(new SendBatchRequest { Items = { item } }, deadline: DateTime.UtcNow.AddSeconds(10)).ConfigureAwait(false);
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, long> { ["delivered"] = r.Delivered, ["gatewaysAnswered"] = r.Reach.GatewaysAnswered, ["gatewaysTotal"] = r.Reach.GatewaysTotal }));
            return 0;
        }
        catch (RpcException ex)
        {
            Console.Error.WriteLine(Failure("send", cli, ex));
            return 1;
        }
    }
}
