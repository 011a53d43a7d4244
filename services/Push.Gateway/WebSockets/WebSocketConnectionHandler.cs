using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using Google.Protobuf;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Gateway.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.Workers;
using Push.V1;

namespace Push.Gateway.WebSockets;

/// <summary>
/// Accepts WebSocket clients straight on Kestrel's transport (no HTTP middleware layer stays alive under the socket):
/// parses and validates the upgrade request, answers 101, then reads RFC 6455 frames from the pipe. Everything
/// written to the client goes through the connection's send queue.
/// </summary>
internal sealed partial class WebSocketConnectionHandler(
    ConnectionTable table,
    WorkerRouter router,
    GatewayMetrics metrics,
    GatewayIdentity identity,
    PendingHandshakes pending,
    HandshakeTokenValidator tokens,
    Push.Gateway.Resume.ResumeCoordinator resume,
    IOptions<GatewayOptions> options,
    TimeProvider time,
    ILogger<WebSocketConnectionHandler> logger) : ConnectionHandler
{
    private static readonly byte[] Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();
    private static readonly SearchValues<char> KeyChars = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");

    // Not async: RunAsync is the one state machine that waits for the connection's whole life (idle memory per connection).
    public override Task OnConnectedAsync(ConnectionContext connection) => RunAsync(connection);

    private async Task<ClientConnection?> HandshakeAsync(ConnectionContext connection)
    {
        var o = options.Value;
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        // One deadline for the whole handshake: reading the request and, with Gateway:WorkerAuthorization, the worker's decision.
        using var timeout = new CancellationTokenSource(o.HandshakeTimeout, time);
        HandshakeRequest? request;
        try
        {
            request = await ReadHeadAsync(input, output, o, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            metrics.HandshakeRejected("timeout");
            await RespondAsync(output, 408, "Request Timeout", "handshake not completed within Gateway:HandshakeTimeout").ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException)
        {
            return null;
        }
        if (request is null)
        {
            return null;
        }
        if (!request.HeaderHasToken("Upgrade", "websocket"))
        {
            await ServePlainAsync(request, output, o).ConfigureAwait(false);
            return null;
        }
        var reject = Validate(request, o);
        if (reject is { } r)
        {
            metrics.HandshakeRejected(r.Tag);
            await RespondAsync(output, r.Status, r.Phrase, r.Message, r.Extra).ConfigureAwait(false);
            return null;
        }
        string? uid = null;
        if (tokens.Enabled)
        {
            var check = await tokens.CheckAsync(request).ConfigureAwait(false);
            if (check.Error is { } error)
            {
                metrics.HandshakeRejected("token");
                Log.TokenRejected(logger, connection.RemoteEndPoint?.ToString() ?? "?", error);
                await RespondAsync(output, 401, "Unauthorized", "invalid or missing token: " + error, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n").ConfigureAwait(false);
                return null;
            }
            uid = check.Uid;
        }
        var key = request.Header("Sec-WebSocket-Key")!;
#pragma warning disable CA5350 // RFC 6455 mandates SHA-1 for Sec-WebSocket-Accept; it is not used for security.
        var accept = Convert.ToBase64String(SHA1.HashData([.. Encoding.ASCII.GetBytes(key), .. Guid]));
#pragma warning restore CA5350
        var offer = request.Header("Sec-WebSocket-Protocol");
        var v1 = ResumeToken.TryRead(offer, out var resumeToken, out var malformedToken);
        var protocol = v1 ? ResumeToken.Protocol : offer?.Split(',')[0].Trim();
        var response = Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n"
            + (string.IsNullOrEmpty(protocol) ? string.Empty : "Sec-WebSocket-Protocol: " + protocol + "\r\n") + "\r\n");

        string? resumeFailed = malformedToken is null ? null : "invalid";
        if (resumeToken is { } token)
        {
            var resumed = await ResumeAsync(token, response, connection, timeout.Token).ConfigureAwait(false);
            if (resumed.Client is not null || resumed.Failure is null)
            {
                return resumed.Client;
            }
            resumeFailed = resumed.Failure;
        }
        var sequence = table.NextSequence();
        var client = ClientConnection.Issue(sequence, identity.Id, connection, metrics, o, v1 ? resume.Budget : null);
        var connect = ConnectEvent(client, request, connection, o.ForwardCookies);
        var welcome = v1 ? resume.Welcome(client, 0, resumed: false, resumeFailed) : null;
        if (o.WorkerAuthorization)
        {
            // The welcome goes out with the 101, before anything the worker sends.
            return await AuthorizeAsync(client, connect, welcome is null ? response : [.. response, .. welcome.Bytes], uid, connection, timeout.Token).ConfigureAwait(false);
        }
        try
        {
            await output.WriteAsync(response).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
            return null;
        }
        if (welcome is not null)
        {
            client.Send(welcome); // first frame, before the connection can be found by any push
        }
        table.Add(client);
        if (uid is not null)
        {
            table.BindUid(client, uid);
        }
        metrics.ConnectionOpened();
        Log.Connected(logger, client.ClientId, connection.RemoteEndPoint?.ToString() ?? "?");
        try
        {
            await router.PostAsync(client, connect, connection).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        return client;
    }

    /// <summary>
    /// A push.v1 client presented a resume token: reattach it here or take it over from its gateway, answer 101, and
    /// replay what it missed after the welcome. A failure leaves the caller to make a fresh connection whose welcome
    /// says why (resumed: false).
    /// </summary>
    private async Task<(ClientConnection? Client, string? Failure)> ResumeAsync(ResumeToken token, byte[] response, ConnectionContext connection, CancellationToken deadline)
    {
        Push.Gateway.Resume.ResumeOutcome outcome;
        try
        {
            outcome = await resume.PrepareAsync(token, connection, deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            outcome = new(null, "owner_unreachable", string.Empty, 0);
        }
        if (outcome.Connection is not { } c)
        {
            return (null, outcome.Failure ?? "expired");
        }
        try
        {
            await connection.Transport.Output.WriteAsync(response, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
            // The new socket is gone already: the connection keeps waiting (it was detached, or adopted and detached).
            return (null, null);
        }
        var replayed = c.TryAttach(connection, token.LastSeq, seq => resume.Welcome(c, seq, resumed: true, failed: null));
        if (replayed < 0)
        {
            return (null, "expired"); // its window ended in between
        }
        metrics.ConnectionOpened();
        Log.Resumed(logger, c.ClientId, replayed);
        try
        {
            await resume.PostResumedAsync(c, connection, outcome, replayed, connection.ConnectionClosed).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        return (c, null);
    }

    /// <summary>
    /// Gateway:WorkerAuthorization: the connect event goes to the worker before the client is answered; the worker's
    /// accept (applied by <see cref="PendingHandshakes"/>: table + queued 101) or reject (its HTTP status) decides.
    /// No decision within the handshake deadline: 503, and the worker is told the handshake was abandoned.
    /// </summary>
    private async Task<ClientConnection?> AuthorizeAsync(ClientConnection client, Event connect, byte[] response, string? uid, ConnectionContext connection, CancellationToken deadline)
    {
        var output = connection.Transport.Output;
        connect.Connect.Authorize = true;
        if (uid is not null)
        {
            connect.Uid = uid;
        }
        var entry = pending.Add(client, response, uid);
        bool posted;
        try
        {
            posted = await router.PostConnectAsync(client, connect, deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            posted = false;
        }
        if (!posted)
        {
            pending.Abandon(entry);
            WorkerRouter.Release(client);
            metrics.HandshakeRejected("no_worker");
            await RespondAsync(output, 503, "Service Unavailable", "no business worker is available to authorize the handshake", "Retry-After: 1\r\n").ConfigureAwait(false);
            return null;
        }
        HandshakeDecision decision;
        using (var wait = CancellationTokenSource.CreateLinkedTokenSource(deadline, connection.ConnectionClosed))
        {
            try
            {
                decision = await entry.Decision.Task.WaitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (pending.Abandon(entry))
            {
                var gone = connection.ConnectionClosed.IsCancellationRequested;
                metrics.HandshakeRejected(gone ? "client_left" : "authorization_timeout");
                router.PostClose(client, new Event
                {
                    ClientId = client.ClientId,
                    Close = new CloseEvent
                    {
                        Code = CloseCodes.Abnormal,
                        Reason = gone ? "client left while its handshake waited for authorization" : "no authorization decision within Gateway:HandshakeTimeout",
                        HandshakeAbandoned = true,
                    },
                });
                if (!gone)
                {
                    Log.AuthorizationTimeout(logger, client.ClientId);
                    await RespondAsync(output, 503, "Service Unavailable", "the application did not authorize the handshake in time", "Retry-After: 1\r\n").ConfigureAwait(false);
                }
                return null;
            }
            catch (OperationCanceledException)
            {
                decision = await entry.Decision.Task.ConfigureAwait(false); // the decision won the race
            }
        }
        if (!decision.Accepted)
        {
            WorkerRouter.Release(client);
            metrics.HandshakeRejected("application");
            var status = decision.Status is >= 400 and <= 599 ? decision.Status : 403;
            var reason = decision.Reason.Length > 256 ? decision.Reason[..256] : decision.Reason;
            Log.RejectedByWorker(logger, client.ClientId, status);
            await RespondAsync(output, status, ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Rejected", reason.Length > 0 ? reason : "handshake rejected by the application").ConfigureAwait(false);
            return null;
        }
        metrics.ConnectionOpened();
        Log.Connected(logger, client.ClientId, connection.RemoteEndPoint?.ToString() ?? "?");
        return client;
    }

    /// <summary>The connection's end: detached for a resume, or out of the table with its close event to the worker.</summary>
    // A ValueTask: its awaiter is the one the receive loop's posts use already (one field less in RunAsync's state machine).
    private async ValueTask EndAsync(ClientConnection client, int code, string reason)
    {
        if (resume.TryDetach(client, code, reason))
        {
            // Resumable: it stays in the table (uid, groups, session, worker) and buffers until it resumes or its window ends.
            metrics.ConnectionClosed(ReasonTag(code));
        }
        else
        {
            // A resumable connection that left the table meanwhile (it moved to another gateway) has no close event here.
            if (table.Remove(client) || !client.IsResumable)
            {
                router.PostClose(client, new Event { ClientId = client.ClientId, Close = new CloseEvent { Code = code, Reason = reason } });
            }
            await client.WhenCloseFlushedAsync(TimeSpan.FromSeconds(1), time).ConfigureAwait(false);
            if (client.IsResumable)
            {
                client.Release();
            }
            client.MarkDone();
            metrics.ConnectionClosed(ReasonTag(code));
            Log.Closed(logger, client.ClientId, code, reason);
        }
    }

    private static async Task<HandshakeRequest?> ReadHeadAsync(PipeReader input, PipeWriter output, GatewayOptions o, CancellationToken ct)
    {
        while (true)
        {
            var result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            var end = HandshakeRequest.FindHeadEnd(buffer);
            if (end >= 0)
            {
                if (end > o.MaxHandshakeSize)
                {
                    input.AdvanceTo(buffer.End);
                    await RespondAsync(output, 431, "Request Header Fields Too Large", "handshake larger than Gateway:MaxHandshakeSize").ConfigureAwait(false);
                    return null;
                }
                var head = buffer.Slice(0, end - 4).ToArray();
                input.AdvanceTo(buffer.GetPosition(end));
                var request = HandshakeRequest.Parse(head);
                if (request is null)
                {
                    await RespondAsync(output, 400, "Bad Request", "malformed HTTP request").ConfigureAwait(false);
                }
                return request;
            }
            if (buffer.Length > o.MaxHandshakeSize)
            {
                input.AdvanceTo(buffer.End);
                await RespondAsync(output, 431, "Request Header Fields Too Large", "handshake larger than Gateway:MaxHandshakeSize").ConfigureAwait(false);
                return null;
            }
            if (result.IsCompleted)
            {
                return null;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private readonly record struct Rejection(int Status, string Phrase, string Message, string Tag, string? Extra = null);

    private Rejection? Validate(HandshakeRequest request, GatewayOptions o)
    {
        if (!string.Equals(request.Method, "GET", StringComparison.Ordinal) || !string.Equals(request.Version, "HTTP/1.1", StringComparison.Ordinal))
        {
            return new Rejection(400, "Bad Request", "a WebSocket handshake is GET over HTTP/1.1", "bad_request");
        }
        if (!request.HeaderHasToken("Connection", "upgrade"))
        {
            return new Rejection(400, "Bad Request", "missing 'Connection: Upgrade'", "bad_request");
        }
        if (!string.Equals(request.Header("Sec-WebSocket-Version"), "13", StringComparison.Ordinal))
        {
            return new Rejection(426, "Upgrade Required", "only WebSocket version 13 is supported", "bad_version", "Sec-WebSocket-Version: 13\r\n");
        }
        var key = request.Header("Sec-WebSocket-Key");
        if (key is null || key.Length != 24 || key.AsSpan().IndexOfAnyExcept(KeyChars) >= 0 || !Convert.TryFromBase64String(key, new byte[18], out var n) || n != 16)
        {
            return new Rejection(400, "Bad Request", "missing or invalid Sec-WebSocket-Key", "bad_request");
        }
        if (request.Header("Host") is null)
        {
            return new Rejection(400, "Bad Request", "missing Host header", "bad_request");
        }
        if (o.AllowedOrigins.Count > 0)
        {
            var origin = request.Header("Origin");
            if (origin is null || !o.AllowedOrigins.Any(a => string.Equals(a.TrimEnd('/'), origin.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)))
            {
                return new Rejection(403, "Forbidden", "origin not allowed (Gateway:AllowedOrigins)", "origin");
            }
        }
        if (identity.Draining)
        {
            return new Rejection(503, "Service Unavailable", "gateway is draining; connect to another gateway", "draining", "Retry-After: 1\r\n");
        }
        if (table.Count + pending.Count >= o.MaxConnections)
        {
            return new Rejection(503, "Service Unavailable", "gateway is full (Gateway:MaxConnections)", "max_connections", "Retry-After: 5\r\n");
        }
        return null;
    }

    private static async Task ServePlainAsync(HandshakeRequest request, PipeWriter output, GatewayOptions o)
    {
        if (o.DemoPage && request.Method is "GET" or "HEAD" && request.Path is "/" or "/index.html")
        {
            var body = Encoding.UTF8.GetBytes(DemoPage.Html);
            var head = $"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body.Length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
            await WriteSafeAsync(output, request.Method == "HEAD" ? Encoding.ASCII.GetBytes(head) : [.. Encoding.ASCII.GetBytes(head), .. body]).ConfigureAwait(false);
            return;
        }
        if (o.DemoPage && request.Method is "GET" or "HEAD" && request.Path is "/push-client.js")
        {
            var body = DemoPage.SdkBundle;
            var head = $"HTTP/1.1 200 OK\r\nContent-Type: text/javascript; charset=utf-8\r\nContent-Length: {body.Length}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
            await WriteSafeAsync(output, request.Method == "HEAD" ? Encoding.ASCII.GetBytes(head) : [.. Encoding.ASCII.GetBytes(head), .. body]).ConfigureAwait(false);
            return;
        }
        await RespondAsync(output, 426, "Upgrade Required", "this port serves WebSocket clients: connect with a WebSocket handshake (Upgrade: websocket)", "Sec-WebSocket-Version: 13\r\n").ConfigureAwait(false);
    }

    private static Task RespondAsync(PipeWriter output, int status, string phrase, string message, string? extra = null)
    {
        var body = Encoding.UTF8.GetBytes(message + "\n");
        var head = $"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n{extra}\r\n";
        return WriteSafeAsync(output, [.. Encoding.ASCII.GetBytes(head), .. body]);
    }

    private static async Task WriteSafeAsync(PipeWriter output, byte[] bytes)
    {
        try
        {
            await output.WriteAsync(bytes).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
        }
    }

    private static Event ConnectEvent(ClientConnection client, HandshakeRequest request, ConnectionContext connection, bool forwardCookies)
    {
        var ce = new ConnectEvent { Path = request.Path, Query = request.Query, GatewayEndpoint = connection.LocalEndPoint?.ToString() ?? string.Empty };
        if (connection.RemoteEndPoint is IPEndPoint ip)
        {
            ce.RemoteAddress = (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString();
            ce.RemotePort = ip.Port;
        }
        request.CopyHeadersTo(ce.Headers, forwardCookies);
        return new Event { ClientId = client.ClientId, Connect = ce };
    }

    // The connection's whole life, handshake, receive loop and end, is this one async method: one state machine waits
    // while the connection is idle (idle memory per connection, docs/memory.md).
    private async Task RunAsync(ConnectionContext connection)
    {
        // The handshake lives in its own method so that nothing of the HTTP request stays referenced by this
        // state machine while the connection is open.
        var c = await HandshakeAsync(connection).ConfigureAwait(false);
        if (c is null)
        {
            return;
        }
        var input = connection.Transport.Input;
        var o = options.Value;
        (int Code, string Reason) closed = (CloseCodes.Abnormal, "connection lost");
        byte[]? fragments = null;
        var fragmentLength = 0;
        byte fragmentOpcode = 0;
        try
        {
            while (true)
            {
                // No token: a cancellable read would register a callback per read; the transport completes the pipe on close.
                var result = await input.ReadAsync(CancellationToken.None).ConfigureAwait(false);
                var buffer = result.Buffer;
                // Only what is needed after the posts' awaits is kept: the ReadResult itself is not (state machine size).
                var ended = result.IsCompleted || result.IsCanceled;
                Volatile.Write(ref c.LastActivity, Environment.TickCount64);
                Volatile.Write(ref c.MissedPings, 0);
                try
                {
                    while (true)
                    {
                        var status = FrameParser.TryParseHeader(buffer, o.MaxMessageSize, out var h, out var errorCode, out var errorReason);
                        if (status == FrameParseStatus.Error)
                        {
                            closed = Fail(c, errorCode, errorReason);
                            return;
                        }
                        if (status == FrameParseStatus.NeedMore || buffer.Length < h.HeaderLength + h.PayloadLength)
                        {
                            break;
                        }
                        var payload = buffer.Slice(h.HeaderLength, h.PayloadLength);
                        var len = (int)h.PayloadLength;
                        buffer = buffer.Slice(h.HeaderLength + h.PayloadLength);
                        switch (h.Opcode)
                        {
                            case 0x8:
                                closed = OnClose(c, payload, h.MaskKey);
                                return;
                            case 0x9:
                                {
                                    var pong = new byte[len];
                                    FrameParser.Unmask(payload, pong, h.MaskKey);
                                    c.Send(OutboundFrame.Pong(pong));
                                    continue;
                                }
                            case 0xA:
                                continue;
                            case 0x1 or 0x2 when fragments is not null:
                                closed = Fail(c, CloseCodes.ProtocolError, "new message before the fragmented one ended");
                                return;
                            case 0x1 or 0x2 when h.Fin:
                                {
                                    var e = MessageEvent(c, payload, len, h.MaskKey, h.Opcode, out var bad, out var badReason);
                                    if (e is null)
                                    {
                                        closed = Fail(c, bad, badReason);
                                        return;
                                    }
                                    if (ReferenceEquals(e, ControlHandled))
                                    {
                                        continue;
                                    }
                                    if (ReferenceEquals(e, ControlClose))
                                    {
                                        closed = Fail(c, CloseCodes.Normal, "closed by client");
                                        return;
                                    }
                                    if (!Admit(c, o))
                                    {
                                        if (o.RateLimitPolicy == RateLimitPolicy.Close)
                                        {
                                            closed = Fail(c, CloseCodes.PolicyViolation, "message rate limit exceeded");
                                            return;
                                        }
                                        metrics.EventDropped("rate_limit");
                                        continue;
                                    }
                                    metrics.MessageReceived(len);
                                    Trace(e);
                                    await router.PostAsync(c, e, connection).ConfigureAwait(false);
                                    continue;
                                }
                            case 0x1 or 0x2:
                                fragments = ArrayPool<byte>.Shared.Rent(Math.Max(len, 1024));
                                FrameParser.Unmask(payload, fragments.AsSpan(0, len), h.MaskKey);
                                fragmentLength = len;
                                fragmentOpcode = h.Opcode;
                                continue;
                            default: // continuation
                                {
                                    if (fragments is null)
                                    {
                                        closed = Fail(c, CloseCodes.ProtocolError, "continuation frame without a message");
                                        return;
                                    }
                                    if ((long)fragmentLength + len > o.MaxMessageSize)
                                    {
                                        closed = Fail(c, CloseCodes.TooBig, "message too big");
                                        return;
                                    }
                                    if (fragmentLength + len > fragments.Length)
                                    {
                                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(fragments.Length * 2, fragmentLength + len), o.MaxMessageSize));
                                        fragments.AsSpan(0, fragmentLength).CopyTo(bigger);
                                        ArrayPool<byte>.Shared.Return(fragments);
                                        fragments = bigger;
                                    }
                                    FrameParser.Unmask(payload, fragments.AsSpan(fragmentLength, len), h.MaskKey);
                                    fragmentLength += len;
                                    if (!h.Fin)
                                    {
                                        continue;
                                    }
                                    var e = MessageEvent(c, fragments.AsSpan(0, fragmentLength), fragmentOpcode, out var bad, out var badReason);
                                    ArrayPool<byte>.Shared.Return(fragments);
                                    fragments = null;
                                    var total = fragmentLength;
                                    fragmentLength = 0;
                                    if (e is null)
                                    {
                                        closed = Fail(c, bad, badReason);
                                        return;
                                    }
                                    if (ReferenceEquals(e, ControlHandled))
                                    {
                                        continue;
                                    }
                                    if (ReferenceEquals(e, ControlClose))
                                    {
                                        closed = Fail(c, CloseCodes.Normal, "closed by client");
                                        return;
                                    }
                                    if (!Admit(c, o))
                                    {
                                        if (o.RateLimitPolicy == RateLimitPolicy.Close)
                                        {
                                            closed = Fail(c, CloseCodes.PolicyViolation, "message rate limit exceeded");
                                            return;
                                        }
                                        metrics.EventDropped("rate_limit");
                                        continue;
                                    }
                                    metrics.MessageReceived(total);
                                    Trace(e);
                                    await router.PostAsync(c, e, connection).ConfigureAwait(false);
                                    continue;
                                }
                        }
                    }
                    if (ended)
                    {
                        closed = c.IsClosing && c.ServerCloseCode != 0 ? (c.ServerCloseCode, c.ServerCloseReason ?? "closed by server") : (CloseCodes.Abnormal, "connection lost");
                        return;
                    }
                }
                finally
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException or InvalidOperationException)
        {
            if (c.IsClosing && c.ServerCloseCode != 0)
            {
                closed = (c.ServerCloseCode, c.ServerCloseReason ?? "closed by server");
            }
        }
        finally
        {
            if (fragments is not null)
            {
                ArrayPool<byte>.Shared.Return(fragments);
            }
            await EndAsync(c, closed.Code, closed.Reason).ConfigureAwait(false);
        }
    }

    // Returned by MessageEvent for a push.v1 control message that was handled (nothing for the worker) and for the
    // client's {"type":"close"} (the receive loop ends).
    private static readonly Event ControlHandled = new();
    private static readonly Event ControlClose = new();

    private static Event? MessageEvent(ClientConnection c, in ReadOnlySequence<byte> payload, int len, uint mask, byte opcode, out int error, out string reason)
    {
        byte[]? rented = null;
        var span = len <= 1024 ? stackalloc byte[len] : (rented = ArrayPool<byte>.Shared.Rent(len)).AsSpan(0, len);
        try
        {
            FrameParser.Unmask(payload, span, mask);
            return MessageEvent(c, span, opcode, out error, out reason);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static Event? MessageEvent(ClientConnection c, ReadOnlySpan<byte> data, byte opcode, out int error, out string reason)
    {
        error = CloseCodes.InvalidPayload;
        reason = "invalid UTF-8 in a text message";
        var me = new MessageEvent();
        if (opcode == 0x1)
        {
            if (!Utf8.IsValid(data))
            {
                return null;
            }
            me.Text = Encoding.UTF8.GetString(data);
        }
        else if (c.IsResumable)
        {
            // push.v1: a binary frame is 0x00 + application bytes, or 0x01 + a JSON control message.
            error = CloseCodes.ProtocolError;
            if (data.Length == 0 || data[0] > OutboundFrame.V1Control)
            {
                reason = "push.v1: a binary frame starts with 0x00 (data) or 0x01 (control)";
                return null;
            }
            if (data[0] == OutboundFrame.V1Control)
            {
                return Control(c, data[1..], out reason);
            }
            me.Binary = ByteString.CopyFrom(data[1..]);
        }
        else
        {
            me.Binary = ByteString.CopyFrom(data);
        }
        return new Event { ClientId = c.ClientId, Message = me };
    }

    private static Event? Control(ClientConnection c, ReadOnlySpan<byte> json, out string reason)
    {
        reason = string.Empty;
        switch (ControlFrames.Parse(json, out var seq))
        {
            case ClientControlKind.Ack:
                if (!c.Ack(seq))
                {
                    reason = "push.v1: ack of a message never sent";
                    return null;
                }
                return ControlHandled;
            case ClientControlKind.Ping:
                c.Send(ControlFrames.Pong);
                return ControlHandled;
            case ClientControlKind.Close:
                c.EndsForGood = true;
                return ControlClose;
            case ClientControlKind.Unknown:
                return ControlHandled;
            default:
                reason = "push.v1: malformed control message";
                return null;
        }
    }

    // A span per client message only when a tracer listens (StartActivity returns null otherwise).
    private static void Trace(Event e)
    {
        using var activity = GatewayMetrics.Source.StartActivity("push.gateway.client_message", System.Diagnostics.ActivityKind.Producer);
        if (activity is not null)
        {
            activity.SetTag("push.client_id", e.ClientId);
            e.Traceparent = activity.Id ?? string.Empty;
        }
    }

    private static bool Admit(ClientConnection c, GatewayOptions o)
    {
        var rate = o.MaxMessagesPerSecond;
        if (rate <= 0)
        {
            return true;
        }
        var now = Environment.TickCount64;
        if (c.RateTokens < 0)
        {
            c.RateTokens = rate * 2;
            c.RateStamp = now;
        }
        c.RateTokens = Math.Min(rate * 2, c.RateTokens + (now - c.RateStamp) * rate / 1000.0);
        c.RateStamp = now;
        if (c.RateTokens < 1)
        {
            return false;
        }
        c.RateTokens -= 1;
        return true;
    }

    private static (int, string) OnClose(ClientConnection c, in ReadOnlySequence<byte> payload, uint mask)
    {
        Span<byte> data = stackalloc byte[(int)payload.Length];
        FrameParser.Unmask(payload, data, mask);
        if (data.Length == 0)
        {
            c.EndsForGood = true;
            c.Close(CloseCodes.Normal, string.Empty);
            return (1005, "closed by client (no status)");
        }
        if (data.Length == 1)
        {
            return Fail(c, CloseCodes.ProtocolError, "invalid close frame");
        }
        var code = BinaryPrimitives.ReadUInt16BigEndian(data);
        if (!FrameParser.IsValidCloseCode(code))
        {
            return Fail(c, CloseCodes.ProtocolError, "invalid close code");
        }
        if (!Utf8.IsValid(data[2..]))
        {
            return Fail(c, CloseCodes.InvalidPayload, "invalid UTF-8 in close reason");
        }
        var reason = Encoding.UTF8.GetString(data[2..]);
        if (code == CloseCodes.Normal)
        {
            c.EndsForGood = true; // a push.v1 client that closes with 1000 does not come back
        }
        if (c.IsClosing && c.ServerCloseCode != 0)
        {
            return (c.ServerCloseCode, c.ServerCloseReason ?? "closed by server");
        }
        // Echoing the client's code is not the server ending the connection: only 1000 from the client ends it for good.
        var forGood = c.EndsForGood;
        c.Close(code, string.Empty);
        c.EndsForGood = forGood;
        return (code, reason.Length == 0 ? "closed by client" : reason);
    }

    private static (int, string) Fail(ClientConnection c, int code, string reason)
    {
        c.Close(code, reason);
        return (code, reason);
    }

    private static string ReasonTag(int code) => code switch
    {
        CloseCodes.Normal or 1005 => "normal",
        CloseCodes.GoingAway => "going_away",
        CloseCodes.ProtocolError => "protocol_error",
        CloseCodes.Abnormal => "abnormal",
        CloseCodes.InvalidPayload => "invalid_payload",
        CloseCodes.PolicyViolation => "rate_limit",
        CloseCodes.TooBig => "too_big",
        CloseCodes.HeartbeatTimeout => "heartbeat_timeout",
        CloseCodes.SlowConsumer => "slow_consumer",
        _ => "other",
    };

    private static partial class Log
    {
        [LoggerMessage(3201, LogLevel.Debug, "Client {ClientId} connected from {Remote}.", EventName = "Connected")]
        public static partial void Connected(ILogger logger, string clientId, string remote);

        [LoggerMessage(3202, LogLevel.Debug, "Client {ClientId} closed: {Code} {Reason}.", EventName = "Closed")]
        public static partial void Closed(ILogger logger, string clientId, int code, string reason);

        [LoggerMessage(3203, LogLevel.Debug, "Handshake from {Remote} refused (401): {Error}.", EventName = "TokenRejected")]
        public static partial void TokenRejected(ILogger logger, string remote, string error);

        [LoggerMessage(3204, LogLevel.Debug, "Handshake of {ClientId} rejected by the business worker with HTTP {Status}.", EventName = "RejectedByWorker")]
        public static partial void RejectedByWorker(ILogger logger, string clientId, int status);

        [LoggerMessage(3206, LogLevel.Debug, "Client {ClientId} resumed; {Replayed} messages replayed.", EventName = "Resumed")]
        public static partial void Resumed(ILogger logger, string clientId, int replayed);

        [LoggerMessage(3205, LogLevel.Warning, "Handshake of {ClientId} got no authorization decision from the business worker within Gateway:HandshakeTimeout; answered 503.", EventName = "AuthorizationTimeout")]
        public static partial void AuthorizationTimeout(ILogger logger, string clientId);
    }
}
