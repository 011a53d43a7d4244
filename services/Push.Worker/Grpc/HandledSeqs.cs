using System.Collections.Concurrent;

namespace Push.Worker.Grpc;

/// <summary>
/// The last event sequence (Event.seq) this worker handled per client, over all gateway streams, to recognise a
/// redelivered event it already ran (the stream it came on ended before the gateway got the ack). A client's entry
/// goes with its close; the entries of a stream that ended abruptly, or of a client that moved away, stay for a while
/// (its events may come back on another stream) and the oldest of those go beyond <see cref="OrphanLimit"/>.
/// </summary>
internal sealed class HandledSeqs
{
    /// <summary>Most entries kept for clients no live stream holds.</summary>
    public const int OrphanLimit = 65_536;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string ClientId, Entry Entry)> _orphans = new();
    private int _orphanCount;

    /// <summary>Clients with an entry.</summary>
    public int Count => _entries.Count;

    /// <summary>Whether a redelivered event with sequence <paramref name="seq"/> of this client was handled here already.</summary>
    public bool Handled(string clientId, ulong seq) => seq != 0 && _entries.TryGetValue(clientId, out var e) && Volatile.Read(ref e.Seq) >= seq;

    /// <summary>Records that the client's event <paramref name="seq"/> was handled by a stream (<paramref name="owner"/>).</summary>
    public void Record(string clientId, ulong seq, object owner)
    {
        if (seq == 0)
        {
            return;
        }
        var e = _entries.GetOrAdd(clientId, static _ => new Entry());
        lock (e)
        {
            if (seq > e.Seq)
            {
                e.Seq = seq;
            }
            e.Owner = owner;
        }
    }

    /// <summary>The client closed: nothing of it can come again.</summary>
    public void Forget(string clientId) => _entries.TryRemove(clientId, out _);

    /// <summary>The stream <paramref name="owner"/> no longer holds these clients (it ended, or they moved): their entries may go later.</summary>
    public void Orphan(IEnumerable<string> clientIds, object owner)
    {
        foreach (var id in clientIds)
        {
            if (!_entries.TryGetValue(id, out var e))
            {
                continue;
            }
            lock (e)
            {
                if (!ReferenceEquals(e.Owner, owner))
                {
                    continue; // another stream has it now
                }
                e.Owner = null;
            }
            _orphans.Enqueue((id, e));
            Interlocked.Increment(ref _orphanCount);
        }
        while (Volatile.Read(ref _orphanCount) > OrphanLimit && _orphans.TryDequeue(out var old))
        {
            Interlocked.Decrement(ref _orphanCount);
            lock (old.Entry)
            {
                if (old.Entry.Owner is null)
                {
                    _entries.TryRemove(new KeyValuePair<string, Entry>(old.ClientId, old.Entry));
                }
            }
        }
    }

    private sealed class Entry
    {
        public ulong Seq;
        public object? Owner;
    }
}
