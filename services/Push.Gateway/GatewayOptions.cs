using System.ComponentModel.DataAnnotations;

namespace Push.Gateway;

/// <summary>What to do when a client's send queue is full.</summary>
public enum SlowConsumerPolicy
{
    /// <summary>Close the client with 4001 (slow consumer).</summary>
    Close,
    /// <summary>Drop the oldest queued messages to make room.</summary>
    DropOldest,
}

/// <summary>What to do when a client sends faster than Gateway:MaxMessagesPerSecond.</summary>
public enum RateLimitPolicy
{
    /// <summary>Close the client with 1008 (policy violation).</summary>
    Close,
    /// <summary>Drop the excess messages.</summary>
    Drop,
}

/// <summary>What carries the WebSocket port's connections (Gateway:Transport).</summary>
public enum WebSocketTransport
{
    /// <summary>Raw sockets that hold no pipe or buffer while a connection is idle (the default; about 2 KB less per idle connection, see docs/memory.md).</summary>
    Lean,
    /// <summary>Kestrel's socket transport (two pipes and a receive and send loop per connection).</summary>
    Kestrel,
}

/// <summary>Gateway settings (section "Gateway", env Gateway__Name).</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Interval of the heartbeat (GatewayWorker pingInterval). 0 disables it. Defaults to 25 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>Intervals without any data or pong before the client is closed with 4000 (pingNotResponseLimit). 0: only send pings. Defaults to 2.</summary>
    [Range(0, 1000)]
    public int PingNotResponseLimit { get; set; } = 2;

    /// <summary>Text message sent as the ping (pingData). Empty: a WebSocket ping control frame, which browsers answer by themselves.</summary>
    public string PingData { get; set; } = string.Empty;

    /// <summary>Largest message a client may send, in bytes (close 1009 above). Defaults to 64 KiB.</summary>
    [Range(125, 64 * 1024 * 1024)]
    public int MaxMessageSize { get; set; } = 64 * 1024;

    /// <summary>Largest payload a push may carry, in bytes (INVALID_ARGUMENT above). Defaults to 1 MiB.</summary>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxPushSize { get; set; } = 1024 * 1024;

    /// <summary>Messages a client's send queue holds before the slow-consumer policy applies. Defaults to 4096.</summary>
    [Range(1, 1_000_000)]
    public int SendQueueLimit { get; set; } = 4096;

    /// <summary>
    /// Bytes a client's send queue holds before the slow-consumer policy applies (sendToClientBufferSize). Defaults to
    /// 1 MiB + 64 KiB: a push of MaxPushSize plus its frame header always fits an empty queue (checked at start).
    /// </summary>
    [Range(1024, 1024 * 1024 * 1024)]
    public int SendQueueBytes { get; set; } = DefaultSendQueueBytes;

    /// <summary>Default of <see cref="SendQueueBytes"/>: 1 MiB + 64 KiB.</summary>
    public const int DefaultSendQueueBytes = (1024 + 64) * 1024;

    /// <summary>What happens to a client whose send queue is full. Defaults to Close.</summary>
    public SlowConsumerPolicy SlowConsumerPolicy { get; set; } = SlowConsumerPolicy.Close;

    /// <summary>Most clients this gateway holds; more get HTTP 503. Defaults to 100,000.</summary>
    [Range(1, 10_000_000)]
    public int MaxConnections { get; set; } = 100_000;

    /// <summary>Time a new TCP connection has to complete the WebSocket handshake. Defaults to 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest handshake request (request line + headers), in bytes (HTTP 431 above). Defaults to 16 KiB.</summary>
    [Range(512, 1024 * 1024)]
    public int MaxHandshakeSize { get; set; } = 16 * 1024;

    /// <summary>Origins allowed to connect (e.g. https://app.example.com). Empty allows any origin.</summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>
    /// Send the handshake's Cookie header to the worker (ConnectEvent.headers). Defaults to false: with any Origin
    /// accepted, a cookie proves nothing about who opened the socket (another site can, in the visitor's browser).
    /// Turn it on together with AllowedOrigins; the gateway warns at start when it is on without them.
    /// </summary>
    public bool ForwardCookies { get; set; }

    /// <summary>Most groups one connection may join. Defaults to 1,000.</summary>
    [Range(1, 1_000_000)]
    public int MaxGroupsPerConnection { get; set; } = 1000;

    /// <summary>Largest session (sum of key and value lengths in UTF-16 chars). Defaults to 64 Ki.</summary>
    [Range(16, 64 * 1024 * 1024)]
    public int MaxSessionSize { get; set; } = 64 * 1024;

    /// <summary>Largest group or uid name, in characters. Defaults to 256.</summary>
    [Range(1, 65536)]
    public int MaxNameLength { get; set; } = 256;

    /// <summary>Messages per second a client may send (a burst of twice that is allowed). 0: unlimited.</summary>
    [Range(0, 1_000_000)]
    public int MaxMessagesPerSecond { get; set; }

    /// <summary>What happens to a client that sends too fast. Defaults to Close (1008).</summary>
    public RateLimitPolicy RateLimitPolicy { get; set; } = RateLimitPolicy.Close;

    /// <summary>Events queued towards one worker before client reads wait (backpressure). Defaults to 65,536.</summary>
    [Range(16, 10_000_000)]
    public int WorkerQueueCapacity { get; set; } = 65536;

    /// <summary>
    /// Bytes of events (protobuf size) queued towards one worker, including the batch being written, before client
    /// reads wait (backpressure to the clients' TCP). Bounds a gateway's memory for a stalled worker: at most this per
    /// worker link (text is held as UTF-16, so up to twice this in memory). Defaults to 16 MiB.
    /// </summary>
    [Range(64 * 1024, 1024 * 1024 * 1024)]
    public int WorkerQueueBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Time clients get to go when the gateway drains (SIGTERM or Drain). Defaults to 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a resumable connection (WebSocket subprotocol push.v1) whose socket dropped keeps its client id, uid,
    /// groups, session and worker, buffering what is pushed to it, for the client to resume on any gateway. Defaults to
    /// 2 minutes; 0 turns resuming off (push.v1 clients still get sequence numbers and acks).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ResumeWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Messages a resumable connection keeps until the client acknowledges them (sent or not). Defaults to twice
    /// SendQueueLimit, so that a slow consumer closed for a full send queue (4001) still resumes.
    /// </summary>
    [Range(1, 1_000_000)]
    public int? ResumeBufferMessages { get; set; }

    /// <summary>Bytes a resumable connection keeps until the client acknowledges them. Defaults to twice SendQueueBytes.</summary>
    [Range(1024, 1024 * 1024 * 1024)]
    public int? ResumeBufferBytes { get; set; }

    /// <summary>Bytes every resumable connection of the gateway may keep together. Defaults to 256 MiB.</summary>
    [Range(1024 * 1024, long.MaxValue)]
    public long ResumeBudgetBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Transport of the WebSocket port: Lean (default) or Kestrel. TLS (--tls-cert), connection limits and drain work on
    /// both; the gRPC and HTTP ports always use Kestrel's socket transport.
    /// </summary>
    public WebSocketTransport Transport { get; set; } = WebSocketTransport.Lean;

    /// <summary>
    /// Free GC memory, in MiB, that an idle gateway gives back to the OS: after a few seconds of allocating next to nothing
    /// (e.g. after a burst of connections), a surplus of committed GC memory above this and a quarter of the heap is decommitted
    /// by one compacting full GC, at most every 10 seconds (docs/memory.md). 0 turns it off. Defaults to 16.
    /// </summary>
    [Range(0, 1024 * 1024)]
    public int MemoryTrimMinMiB { get; set; } = 16;

    /// <summary>Serve the demo page at GET / on the WebSocket port. Defaults to false (on with `push start`).</summary>
    public bool DemoPage { get; set; }

    /// <summary>
    /// Let the business worker decide each handshake: the connect event is sent before the client is answered, and
    /// the worker's accept (101) or reject (its HTTP status) must come within HandshakeTimeout (503 otherwise).
    /// Defaults to false (the client is answered 101 at once and the worker learns of it afterwards).
    /// </summary>
    public bool WorkerAuthorization { get; set; }

    /// <summary>Built-in check of a signed token on every handshake (section Gateway:Token).</summary>
    public HandshakeTokenOptions Token { get; set; } = new();
}

/// <summary>
/// Signed handshake tokens (JWT: HS256, RS256, ES256) checked by the gateway itself. The token travels in the query
/// (token=...) or in an "Authorization: Bearer" header; its "sub" claim becomes the client's uid. Failures are
/// answered 401. The check is on when any key is configured (HmacSecret, HmacSecrets, PublicKeys, JwksFile).
/// </summary>
public sealed class HandshakeTokenOptions
{
    /// <summary>An HMAC-SHA256 key (UTF-8 bytes of this string, at least 32 bytes) for HS256 tokens.</summary>
    public string? HmacSecret { get; set; }

    /// <summary>More HS256 keys, all accepted (Gateway:Token:HmacSecrets:0, :1, ...): rotation without downtime.</summary>
    public List<string> HmacSecrets { get; set; } = [];

    /// <summary>
    /// RSA (RS256, at least 2048 bits) or EC P-256 (ES256) public keys, each PEM text ("-----BEGIN PUBLIC KEY-----...",
    /// or a CERTIFICATE) or the path of a PEM file (Gateway:Token:PublicKeys:0, :1, ...). Files are reloaded when they change.
    /// </summary>
    public List<string> PublicKeys { get; set; } = [];

    /// <summary>A JWKS file ({"keys":[...]}, RSA and EC P-256 keys selected by "kid"), reloaded when it changes.</summary>
    public string? JwksFile { get; set; }

    /// <summary>How often key files (JwksFile, PublicKeys paths) are looked at for changes. Defaults to 5 seconds.</summary>
    public TimeSpan KeyReloadInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Name of the query parameter that carries the token. Defaults to "token".</summary>
    public string QueryParameter { get; set; } = "token";

    /// <summary>When set, the token's "iss" claim must equal it.</summary>
    public string? Issuer { get; set; }

    /// <summary>When set, the token's "aud" claim (a string or an array) must contain it.</summary>
    public string? Audience { get; set; }

    /// <summary>Clock difference tolerated on "exp" and "nbf". Defaults to 30 seconds.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>True when any key source is configured.</summary>
    internal bool Enabled => !string.IsNullOrEmpty(HmacSecret) || HmacSecrets.Count > 0 || PublicKeys.Count > 0 || !string.IsNullOrEmpty(JwksFile);
}
