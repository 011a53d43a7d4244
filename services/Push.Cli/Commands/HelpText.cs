namespace Push.Cli.Commands;

internal static class HelpText
{
    public const string Main = """
push - Push.Grpc: real-time WebSocket push over gRPC (GatewayWorker's model, any language)

Usage: push <command> [flags]

Commands:
  start       registry + gateway + demo worker in one process (the all-in-one default)
  registry    the registry alone (cluster address book)
  gateway     a gateway alone (WebSocket clients + control API)
  worker      the demo business worker alone
  status      show the gateways, workers, connections, groups, uids and message counts of a running cluster
  send        push a message from the shell (to a client, uid, group or everyone)

Run 'push <command> --help' for the flags of a command.
""";

    public const string Roles = """
Flags (start, registry, gateway, worker):
  --ws HOST:PORT         public WebSocket endpoint (start, gateway)     [start: 127.0.0.1:8282, gateway: 0.0.0.0:8282]   env PUSH_WS
  --grpc HOST:PORT       gRPC endpoint of the role (h2c)                 [127.0.0.1:8283]                                  env PUSH_GRPC
  --http HOST:PORT       internal HTTP/1.1 endpoint: /healthz/live, /healthz/ready, /metrics  [127.0.0.1:8284; 'none' disables] env PUSH_HTTP
  --api HOST:PORT        HTTP/JSON control API (PHP, curl): POST /v1/send-to-group etc., GET /openapi.json (start, gateway)
                         [start: 127.0.0.1:8285, gateway: none; 'none' disables; TLS when --grpc-tls-cert is set]    env PUSH_API
  --registry URL         registry address, repeatable (gateway, worker)  e.g. http://127.0.0.1:1236                        env PUSH_REGISTRY (comma separated)
  --advertise URL        gRPC address others use to reach this process   [the bound --grpc address]                        env PUSH_ADVERTISE
  --secret S[,OLD]       member secret: required of registry, gateways, workers and peer calls; also grants the
                         control API. Comma-separated values are all accepted (rotation); the first is sent    env PUSH_SECRET
  --control-secret S[,OLD] backend secret: grants the control API (GatewayService) only, never member scope  env PUSH_CONTROL_SECRET
  --tls-cert FILE        PEM certificate (+ intermediates) for wss:// on the WebSocket port (with --tls-key)                 env PUSH_TLS_CERT
  --tls-key FILE         PEM private key for --tls-cert                                                                     env PUSH_TLS_KEY
  --grpc-tls-cert FILE   PEM certificate: serve the gRPC port over TLS (h2 via ALPN; peers then use https:// addresses)     env PUSH_GRPC_TLS_CERT
  --grpc-tls-key FILE    PEM private key for --grpc-tls-cert                                                                env PUSH_GRPC_TLS_KEY
  --grpc-client-ca FILE  PEM CA bundle: require client certificates from it on the gRPC port (mTLS); also the default
                         Cluster:TlsCa, and this node's --grpc-tls-cert becomes its client certificate             env PUSH_GRPC_CLIENT_CA
                         Certificate/key files are reloaded when they change (checked at most every 5 s; new connections
                         get the new certificate, open ones keep theirs; unreadable new files keep the old one, logged)
  --ready-file FILE      write {"ws":..,"grpc":..,"http":..,"api":..,"pid":..} once listening (ports chosen with :0)
  --set KEY=VALUE        any setting, e.g. --set Gateway:PingInterval=00:00:10 (repeatable)

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
  Gateway:DrainTimeout (00:00:10, env PUSH_DRAIN_TIMEOUT in seconds)  Gateway:DemoPage (true with start)
  Gateway:WorkerAuthorization (false; true = the worker decides each handshake)
  Handshake JWT check (on when any key is set; sub = uid; ?token= or Authorization: Bearer; HS256, RS256, ES256):
    Gateway:Token:HmacSecret, Gateway:Token:HmacSecrets:N (HS256 keys, >= 32 bytes each, all accepted: rotation)
    Gateway:Token:PublicKeys:N (RSA >= 2048 / EC P-256 public key: PEM text or PEM file path)
    Gateway:Token:JwksFile (JWKS file, keys chosen by kid)  Gateway:Token:KeyReloadInterval (00:00:05; key files reloaded on change)
    Gateway:Token:QueryParameter (token)  Gateway:Token:Issuer  Gateway:Token:Audience  Gateway:Token:ClockSkew (00:00:30)
  Cluster:LeaseTtl (00:00:05)  Cluster:PeerTimeout (00:00:02)  Worker:Concurrency (16)  Worker:QueueCapacity (4096)
  Cluster:TlsCa (PEM CA bundle for https:// peers)  Cluster:TlsClientCert / Cluster:TlsClientKey (client certificate for mTLS peers)
  Worker:DrainTimeout (00:00:10)  Worker:EventQueueBytes (16777216)  Worker:CommandQueueBytes (16777216)
  Worker:CommandBatchBytes (4194304)
  OTEL_EXPORTER_OTLP_ENDPOINT   export metrics and traces over OTLP as well as /metrics
""";

    public const string Status = """
Usage: push status [--grpc ADDRESS] [--secret SECRET] [--json]
  --secret SECRET  control or member secret (env PUSH_CONTROL_SECRET, else PUSH_SECRET)
  Shows every gateway (connections, groups, uids, messages in/out/dropped, workers connected, uptime) and worker.
  --grpc ADDRESS   any gateway's gRPC address [http://127.0.0.1:8283]   env PUSH_GRPC
  --tls-ca FILE    PEM CA bundle to verify an https:// gateway (env PUSH_TLS_CA); --tls-client-cert/--tls-client-key FILE for mTLS
""";

    public const string Send = """
Usage: push send (--client ID | --uid UID... | --group GROUP... | --all) (--text TEXT | --binary --text BASE64) [--grpc ADDRESS] [--secret SECRET]
  Pushes one message and prints how many connections it was handed to.
  Examples:
    push send --group room1 --text hello
    push send --uid alice --uid bob --text '{"type":"notice"}'
    push send --all --text 'maintenance in 5 minutes'
  --secret SECRET: control or member secret (env PUSH_CONTROL_SECRET, else PUSH_SECRET).
  TLS: --tls-ca FILE, --tls-client-cert FILE, --tls-client-key FILE (as for push status).
""";
}
