using System.Text;

namespace Push.Cli.Commands;

/// <summary>`push --help` and `push COMMAND --help`, written from the declarations in <see cref="CliSpec"/>.</summary>
internal static class HelpText
{
    private const int Width = 118;
    private const int FlagColumn = 28;

    public static string Main
    {
        get
        {
            var b = new StringBuilder();
            b.AppendLine("push - Push.Grpc: real-time WebSocket push over gRPC (GatewayWorker's model, any language)").AppendLine();
            b.AppendLine("Usage: push <command> [flags]").AppendLine();
            b.AppendLine("Commands:");
            foreach (var c in CliSpec.Commands)
            {
                b.AppendLine($"  {c.Name,-11} {c.Summary}");
            }
            b.AppendLine().AppendLine("Run 'push <command> --help' for the flags of a command. Unknown flags are errors (exit code 2).");
            b.Append("Shell completion: install dotnet-suggest (see README, Commands).");
            return b.ToString();
        }
    }

    public static string For(CommandSpec spec)
    {
        var b = new StringBuilder();
        b.AppendLine($"Usage: {spec.Usage}").AppendLine();
        b.AppendLine(char.ToUpperInvariant(spec.Summary[0]) + spec.Summary[1..] + ".");
        if (spec.Name == "start")
        {
            b.AppendLine("With --no-demo-worker the gateway is not ready (/healthz/ready, gRPC health) until your worker connects.");
        }
        if (spec.Name == "send")
        {
            b.AppendLine("Pushes one message and prints how many connections it was handed to. Examples:");
            b.AppendLine("  push send --group room1 --text hello");
            b.AppendLine("  push send --uid alice --uid bob --text '{\"type\":\"notice\"}'");
            b.AppendLine("  push send --all --text 'maintenance in 5 minutes'");
        }
        b.AppendLine().AppendLine("Flags:");
        foreach (var f in spec.Flags)
        {
            var label = "  --" + f.Name + (f.Value is null ? string.Empty : " " + f.Value);
            Wrap(b, label, f.Help, f.Env is null ? null : $"(env {f.Env})");
        }
        Wrap(b, "  -h, --help", "show this help");
        if (spec.Name is "start" or "registry" or "gateway" or "worker")
        {
            b.AppendLine().Append(Settings.TrimEnd());
        }
        return b.ToString().TrimEnd();
    }

    private static void Wrap(StringBuilder b, string label, string text, string? env = null)
    {
        var line = new StringBuilder(label.Length >= FlagColumn ? label + "\n" + new string(' ', FlagColumn) : label.PadRight(FlagColumn));
        var column = FlagColumn;
        foreach (var word in env is null ? text.Split(' ') : [.. text.Split(' '), env])
        {
            if (column + word.Length + 1 > Width && column > FlagColumn)
            {
                line.Append('\n').Append(' ', FlagColumn);
                column = FlagColumn;
            }
            if (column > FlagColumn)
            {
                line.Append(' ');
                column++;
            }
            line.Append(word);
            column += word.Length;
        }
        b.AppendLine(line.ToString());
    }

    public const string Settings = """
Settings (appsettings.json, environment variables with __ for ':', or --set):
  Gateway:PingInterval (00:00:25)  Gateway:PingNotResponseLimit (2)  Gateway:PingData ("")
  Gateway:MaxMessageSize (65536)   Gateway:MaxPushSize (1048576)     Gateway:MaxConnections (100000)
  Gateway:SendQueueLimit (4096)    Gateway:SendQueueBytes (1114112)  Gateway:SlowConsumerPolicy (Close|DropOldest)
  Gateway:HandshakeTimeout (00:00:10)  Gateway:MaxHandshakeSize (16384)  Gateway:AllowedOrigins:0 (any)
  Gateway:ForwardCookies (false; true sends the Cookie header to workers: set AllowedOrigins too, or a SECURITY warning)
  Gateway:MaxGroupsPerConnection (1000)  Gateway:MaxSessionSize (65536)  Gateway:MaxNameLength (256)
  Gateway:MaxMessagesPerSecond (0 = off)  Gateway:RateLimitPolicy (Close|Drop)  Gateway:WorkerQueueCapacity (65536)
  Gateway:WorkerQueueBytes (16777216 per worker link; client reads wait above it)
  (MaxPushSize + frame header must fit SendQueueBytes, the largest event WorkerQueueBytes: checked at start)
  Gateway:DrainTimeout (00:00:10, env PUSH_DRAIN_TIMEOUT in seconds)  Gateway:DemoPage (true with start, unless --no-demo-worker)
  Gateway:WorkerAuthorization (false; true = the worker decides each handshake)
  Gateway:Transport (Lean|Kestrel: the WebSocket port's transport; Lean holds no buffers while a client is idle)
  Handshake JWT check (on when any key is set; sub = uid; ?token= or Authorization: Bearer; HS256, RS256, ES256):
    Gateway:Token:HmacSecret, Gateway:Token:HmacSecrets:N (HS256 keys, >= 32 bytes each, all accepted: rotation)
    Gateway:Token:PublicKeys:N (RSA >= 2048 / EC P-256 public key: PEM text or PEM file path)
    Gateway:Token:JwksFile (JWKS file, keys chosen by kid)  Gateway:Token:KeyReloadInterval (00:00:05; key files reloaded on change)
    Gateway:Token:QueryParameter (token)  Gateway:Token:Issuer  Gateway:Token:Audience  Gateway:Token:ClockSkew (00:00:30)
  Cluster:LeaseTtl (00:00:05)  Cluster:PeerTimeout (00:00:02)  Worker:Concurrency (16)  Worker:QueueCapacity (4096)
  Cluster:Routing (mesh|nats: how group/uid pushes find the gateways with members; mesh = over the gateways' gRPC API)
  Cluster:NatsUrl (nats://HOST:PORT[,...]; required with Cluster:Routing=nats)  Cluster:InterestLease (00:00:03)
  Cluster:TlsCa (PEM CA bundle for https:// peers)  Cluster:TlsClientCert / Cluster:TlsClientKey (client certificate for mTLS peers)
  Worker:DrainTimeout (00:00:10)  Worker:EventQueueBytes (16777216)  Worker:CommandQueueBytes (16777216)
  Worker:CommandBatchBytes (4194304)
  OTEL_EXPORTER_OTLP_ENDPOINT   export metrics and traces over OTLP as well as /metrics
""";
}
