namespace Push.Cli.Commands;

/// <summary>One flag of the command line: its name without dashes, the value it takes (null: a switch), its help and its environment variable.</summary>
internal sealed record Flag(string Name, string? Value, string Help, string? Env = null, bool Repeatable = false);

/// <summary>One subcommand and the flags it accepts.</summary>
internal sealed record CommandSpec(string Name, string Summary, string Usage, IReadOnlyList<Flag> Flags);

/// <summary>
/// Every subcommand and flag of `push`, declared once: the parser (System.CommandLine), `--help` and the typo suggestions
/// all come from here. Adding a flag is one line in <see cref="Host"/>, <see cref="Client"/> or a command's own list.
/// </summary>
internal static class CliSpec
{
    private static readonly Flag Ws = new("ws", "HOST:PORT", "public WebSocket endpoint [start: 127.0.0.1:8282, gateway: 0.0.0.0:8282]", "PUSH_WS");
    private static readonly Flag TlsCert = new("tls-cert", "FILE", "PEM certificate (+ intermediates) for wss:// on the WebSocket port (with --tls-key)", "PUSH_TLS_CERT");
    private static readonly Flag TlsKey = new("tls-key", "FILE", "PEM private key for --tls-cert", "PUSH_TLS_KEY");
    private static readonly Flag Api = new("api", "HOST:PORT", "HTTP/JSON control API (PHP, curl): POST /v1/send-to-group etc., GET /openapi.json [start: 127.0.0.1:8285, gateway: none; 'none' disables; TLS when --grpc-tls-cert is set]", "PUSH_API");
    private static readonly Flag Registry = new("registry", "URL", "registry address, repeatable, e.g. http://127.0.0.1:1236", "PUSH_REGISTRY (comma separated)", Repeatable: true);

    /// <summary>Flags of every role (start, registry, gateway, worker).</summary>
    private static readonly Flag[] Host =
    [
        new("grpc", "HOST:PORT", "gRPC endpoint of the role (h2c) [127.0.0.1:8283]", "PUSH_GRPC"),
        new("http", "HOST:PORT", "internal HTTP/1.1 endpoint: /healthz/live, /healthz/ready, /metrics [127.0.0.1:8284; 'none' disables]", "PUSH_HTTP"),
        new("advertise", "URL", "gRPC address others use to reach this process [the bound --grpc address]", "PUSH_ADVERTISE"),
        new("secret", "S[,OLD]", "member secret: required of registry, gateways, workers and peer calls; also grants the control API. Comma-separated values are all accepted (rotation); the first is sent", "PUSH_SECRET"),
        new("control-secret", "S[,OLD]", "backend secret: grants the control API (GatewayService) only, never member scope", "PUSH_CONTROL_SECRET"),
        new("grpc-tls-cert", "FILE", "PEM certificate: serve the gRPC port over TLS (h2 via ALPN; peers then use https:// addresses)", "PUSH_GRPC_TLS_CERT"),
        new("grpc-tls-key", "FILE", "PEM private key for --grpc-tls-cert", "PUSH_GRPC_TLS_KEY"),
        new("grpc-client-ca", "FILE", "PEM CA bundle: require client certificates from it on the gRPC port (mTLS); also the default Cluster:TlsCa, and this node's --grpc-tls-cert becomes its client certificate. Certificate/key files are reloaded when they change (checked at most every 5 s)", "PUSH_GRPC_CLIENT_CA"),
        new("ready-file", "FILE", "write {\"ws\":..,\"grpc\":..,\"http\":..,\"api\":..,\"pid\":..} once listening (ports chosen with :0)"),
        new("log-format", "simple|json", "console log format: one line of text per entry, or one JSON object per line (for log collectors) [simple]", "PUSH_LOG_FORMAT"),
        new("check", null, "validate the flags, settings and certificate files, print what would listen, and exit (0: valid, 2: not) without listening"),
        new("set", "KEY=VALUE", "any setting, e.g. --set Gateway:PingInterval=00:00:10 (repeatable; see Settings below)", Repeatable: true),
    ];

    /// <summary>Flags of the control-API shells (status, send).</summary>
    private static readonly Flag[] Client =
    [
        new("grpc", "ADDRESS", "any gateway's gRPC address [http://127.0.0.1:8283]", "PUSH_GRPC"),
        new("secret", "SECRET", "control or member secret", "PUSH_CONTROL_SECRET, else PUSH_SECRET"),
        new("tls-ca", "FILE", "PEM CA bundle to verify an https:// gateway", "PUSH_TLS_CA"),
        new("tls-client-cert", "FILE", "PEM client certificate (mTLS)", "PUSH_TLS_CLIENT_CERT"),
        new("tls-client-key", "FILE", "PEM private key for --tls-client-cert", "PUSH_TLS_CLIENT_KEY"),
    ];

    public static readonly IReadOnlyList<CommandSpec> Commands =
    [
        new("start", "registry + gateway + demo worker in one process (the all-in-one default)", "push start [flags]",
            [Ws, Api, .. Host, TlsCert, TlsKey, Registry,
             new("no-demo-worker", null, "run registry + gateway only, without the demo worker (and its demo page): connect your own worker with --registry <this --grpc address>; the gateway is not ready (/healthz/ready) until a worker connects")]),
        new("registry", "the registry alone (cluster address book)", "push registry [flags]", [.. Host]),
        new("gateway", "a gateway alone (WebSocket clients + control API)", "push gateway --registry URL [flags]", [Ws, Api, .. Host, TlsCert, TlsKey, Registry]),
        new("worker", "the demo business worker alone", "push worker --registry URL [flags]", [.. Host, Registry]),
        new("status", "show the gateways, workers, connections, groups, uids and message counts of a running cluster", "push status [--grpc ADDRESS] [--secret SECRET] [--json]",
            [.. Client, new("json", null, "print the status as JSON (the GetStatus response)")]),
        new("send", "push a message from the shell (to a client, uid, group or everyone)", "push send (--client ID | --uid UID... | --group GROUP... | --all) (--text TEXT | --binary --text BASE64) [--grpc ADDRESS] [--secret SECRET]",
            [
                new("client", "ID", "send to one connection"),
                new("uid", "UID", "send to every connection of a uid (repeatable)", Repeatable: true),
                new("group", "GROUP", "send to every member of a group (repeatable)", Repeatable: true),
                new("all", null, "send to every connection"),
                new("text", "TEXT", "the message (with --binary: base64 of the bytes)"),
                new("binary", null, "send a binary frame: --text is base64"),
                .. Client,
            ]),
    ];

    public static CommandSpec? Find(string name) => Commands.FirstOrDefault(c => c.Name == name);
}
