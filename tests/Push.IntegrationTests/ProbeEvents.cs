using System.Text;
using System.Text.Json;
using Push.Worker;

namespace Push.IntegrationTests;

/// <summary>One callback the test worker received, with what it saw.</summary>
public sealed record Callback(
    string Kind,
    string ClientId,
    string GatewayId,
    IReadOnlyDictionary<string, string> Session,
    string? Uid,
    Handshake? Handshake = null,
    string? Text = null,
    byte[]? Binary = null,
    int Code = 0,
    string? Reason = null);

/// <summary>Every callback, in arrival order; tests await the one they expect (no sleeps).</summary>
public sealed class CallbackLog
{
    private readonly List<Callback> _all = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Add(Callback c)
    {
        TaskCompletionSource changed;
        lock (_all)
        {
            _all.Add(c);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    public IReadOnlyList<Callback> For(string clientId)
    {
        lock (_all)
        {
            return _all.Where(c => c.ClientId == clientId).ToArray();
        }
    }

    /// <summary>Waits for the first callback that matches.</summary>
    public async Task<Callback> WaitAsync(Func<Callback, bool> match, CancellationToken ct)
    {
        while (true)
        {
            Task changed;
            lock (_all)
            {
                var found = _all.FirstOrDefault(match);
                if (found is not null)
                {
                    return found;
                }
                changed = _changed.Task;
            }
            await changed.WaitAsync(ct);
        }
    }

    public Task<Callback> WaitAsync(string kind, string clientId, CancellationToken ct, Func<Callback, bool>? also = null)
        => WaitAsync(c => c.Kind == kind && c.ClientId == clientId && (also is null || also(c)), ct);
}

/// <summary>
/// The test's business worker. Records every callback, greets like the demo ({"clientId":...}) and echoes text and
/// binary; on connect it stores the path and a query value in the session, joins the group named by ?room= and binds
/// the uid from the X-Probe-User header. Text commands: "set:K=V" (session), "session" (answers the session as JSON),
/// "gateway" (uses ctx.Gateway from inside the callback), "leave:G", "unbind", "kick" (CloseCurrentClient with a
/// last message).
/// </summary>
public sealed class ProbeEvents(CallbackLog log) : BusinessEvents
{
    private void Record(string kind, ClientContext client, Handshake? handshake = null, string? text = null, byte[]? binary = null, int code = 0, string? reason = null)
        => log.Add(new Callback(kind, client.ClientId, client.GatewayId, client.Session.ToDictionary(), client.Uid, handshake, text, binary, code, reason));

    public override ValueTask OnConnectAsync(ClientContext client)
    {
        Record("connect", client);
        client.SendToCurrentClient("{\"clientId\":\"" + client.ClientId + "\"}");
        return ValueTask.CompletedTask;
    }

    public override ValueTask OnWebSocketConnectAsync(ClientContext client, Handshake handshake)
    {
        Record("websocket", client, handshake);
        client.Session["path"] = handshake.Path;
        if (handshake.Query.TryGetValue("token", out var token))
        {
            client.Session["token"] = token;
        }
        if (handshake.Query.TryGetValue("room", out var room))
        {
            client.JoinGroup(room);
        }
        if (handshake.Headers.TryGetValue("x-probe-user", out var user))
        {
            client.BindUid(user);
        }
        return ValueTask.CompletedTask;
    }

    public override async ValueTask OnMessageAsync(ClientContext client, ClientMessage message)
    {
        Record("message", client, text: message.Text, binary: message.IsText ? null : message.Binary.ToArray());
        if (!message.IsText)
        {
            client.SendToCurrentClient(message.Binary.Span);
            return;
        }
        var text = message.Text!;
        if (text.StartsWith("set:", StringComparison.Ordinal))
        {
            var kv = text[4..].Split('=', 2);
            client.Session[kv[0]] = kv[1];
            client.SendToCurrentClient("set");
        }
        else if (text == "session")
        {
            client.SendToCurrentClient(JsonSerializer.Serialize(client.Session.ToDictionary()));
        }
        else if (text == "gateway")
        {
            // The control API from inside a callback: queries and a send through ctx.Gateway.
            var online = await client.Gateway.IsOnlineAsync(client.ClientId);
            var uid = await client.Gateway.GetUidByClientIdAsync(client.ClientId);
            var groups = await client.Gateway.GetAllGroupIdListAsync();
            await client.Gateway.SendToClientAsync(client.ClientId, Encoding.UTF8.GetBytes($"online={online};uid={uid};groups={string.Join(',', groups)}"));
        }
        else if (text.StartsWith("leave:", StringComparison.Ordinal))
        {
            client.LeaveGroup(text[6..]);
            client.SendToCurrentClient("left");
        }
        else if (text == "unbind")
        {
            client.UnbindUid();
            client.SendToCurrentClient("unbound");
        }
        else if (text == "kick")
        {
            client.CloseCurrentClient("kicked-last", 4002, "kicked");
        }
        else
        {
            client.SendToCurrentClient(text);
        }
    }

    public override ValueTask OnCloseAsync(ClientContext client, int code, string reason)
    {
        Record("close", client, code: code, reason: reason);
        return ValueTask.CompletedTask;
    }
}
