using System.Collections.Concurrent;
using Push.Gateway.Connections;

namespace Push.Gateway.WebSockets;

/// <summary>The business worker's answer to a handshake that waits for authorization.</summary>
internal readonly record struct HandshakeDecision(bool Accepted, int Status, string Reason);

/// <summary>
/// Handshakes that wait for the business worker's decision (Gateway:WorkerAuthorization). Exactly one of the worker's
/// decision, the timeout or the client leaving takes an entry out; whichever does decides what happens to it.
/// An accept is applied right where the worker's command is read, before the commands that follow it on the stream:
/// the client joins the table and the 101 answer goes into its send queue ahead of anything sent to it.
/// </summary>
internal sealed class PendingHandshakes(ConnectionTable table)
{
    private readonly ConcurrentDictionary<string, Entry> _pending = new(StringComparer.Ordinal);

    public int Count => _pending.Count;

    public Entry Add(ClientConnection client, byte[] switchingProtocols, string? uid)
    {
        var entry = new Entry(client, switchingProtocols, uid);
        _pending[client.ClientId] = entry;
        return entry;
    }

    /// <summary>Applies a worker's accept; false when the handshake is no longer waiting (timed out, client gone).</summary>
    public bool Accept(string clientId)
    {
        if (!_pending.TryRemove(clientId, out var entry))
        {
            return false;
        }
        var c = entry.Client;
        c.Send(OutboundFrame.Raw(entry.SwitchingProtocols));
        table.Add(c);
        if (entry.Uid is { } uid)
        {
            table.BindUid(c, uid);
        }
        entry.Decision.TrySetResult(new HandshakeDecision(true, 101, string.Empty));
        return true;
    }

    /// <summary>Applies a worker's reject; false when the handshake is no longer waiting.</summary>
    public bool Reject(string clientId, int status, string reason)
    {
        if (!_pending.TryRemove(clientId, out var entry))
        {
            return false;
        }
        entry.Decision.TrySetResult(new HandshakeDecision(false, status, reason));
        return true;
    }

    /// <summary>Takes the entry out without a decision (timeout, client gone); false when a decision already took it.</summary>
    public bool Abandon(Entry entry) => _pending.TryRemove(KeyValuePair.Create(entry.Client.ClientId, entry));

    internal sealed class Entry(ClientConnection client, byte[] switchingProtocols, string? uid)
    {
        public ClientConnection Client { get; } = client;
        public byte[] SwitchingProtocols { get; } = switchingProtocols;
        public string? Uid { get; } = uid;
        public TaskCompletionSource<HandshakeDecision> Decision { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
