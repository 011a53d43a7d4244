using System.Buffers;
using System.Collections.Concurrent;
using Push.Gateway.WebSockets;

namespace Push.Gateway.Connections;

/// <summary>
/// This gateway's clients, and the uids and groups they belong to. Groups and uids live only here and are released
/// when their last connection leaves. Fan-out copies the targets under the lock and sends outside it. Every first
/// member of a group or uid and every last one leaving is told to the interest routing (under the lock, in order).
/// </summary>
internal sealed class ConnectionTable(GatewayIdentity identity, Routing.IPushRouting? routing = null)
{
    private readonly ConcurrentDictionary<long, ClientConnection> _byId = new();
    // Connections that resumed here from another gateway keep their client id, which names that gateway.
    private readonly ConcurrentDictionary<string, ClientConnection> _adopted = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();
    private readonly Dictionary<string, HashSet<ClientConnection>> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<ClientConnection>> _uids = new(StringComparer.Ordinal);

    public string GatewayId => identity.Id;

    public int Count => _byId.Count;

    public int GroupCount { get { lock (_sync) { return _groups.Count; } } }

    public int UidCount { get { lock (_sync) { return _uids.Count; } } }

    public IEnumerable<ClientConnection> All => _byId.Values;

    /// <summary>Held by every push while it looks connections up and sends (see <see cref="FanoutGate"/>).</summary>
    public FanoutGate Gate { get; } = new();

    /// <summary>A new random table key (64 bits from the OS CSPRNG) that no connection here has.</summary>
    public long NextSequence()
    {
        Span<byte> bytes = stackalloc byte[8];
        long key;
        do
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
            key = BitConverter.ToInt64(bytes);
        }
        while (key == 0 || _byId.ContainsKey(key));
        return key;
    }

    public void Add(ClientConnection connection)
    {
        // A connection that came from another gateway keeps its id, whose key is not its key here (even when the id
        // names this gateway: it left and came back).
        if (!connection.IdIsIssued && (!ClientId.TryParse(connection.ClientId, out var gw, out var key) || !string.Equals(gw, identity.Id, StringComparison.Ordinal) || key != connection.Sequence))
        {
            _adopted[connection.ClientId] = connection;
        }
        _byId[connection.Sequence] = connection;
    }

    /// <summary>Removes a connection and its uid and group memberships; false when it was not here.</summary>
    public bool Remove(ClientConnection connection)
    {
        if (!_byId.TryRemove(connection.Sequence, out _))
        {
            return false;
        }
        if (!connection.IdIsIssued)
        {
            _adopted.TryRemove(new KeyValuePair<string, ClientConnection>(connection.ClientId, connection));
        }
        lock (_sync)
        {
            if (connection.Uid is { } uid)
            {
                RemoveFrom(_uids, uid, connection);
            }
            if (connection.Groups is { } groups)
            {
                foreach (var g in groups)
                {
                    RemoveFrom(_groups, g, connection);
                }
            }
        }
        return true;
    }

    /// <summary>Finds a local connection by client id (null when the id is not this gateway's or not connected).</summary>
    public ClientConnection? Find(string clientId)
    {
        if (!ClientId.TryParse(clientId, out var gw, out var seq))
        {
            return null;
        }
        // The key is 64 of the id's 96 random bits; the whole id must match, so the other 32 cannot be guessed away.
        if (string.Equals(gw, identity.Id, StringComparison.Ordinal) && _byId.TryGetValue(seq, out var c) && c.HasClientId(clientId))
        {
            return c;
        }
        return !_adopted.IsEmpty && _adopted.TryGetValue(clientId, out var adopted) ? adopted : null;
    }

    public ClientConnection? Find(long sequence) => _byId.TryGetValue(sequence, out var c) ? c : null;

    public void BindUid(ClientConnection c, string uid)
    {
        lock (_sync)
        {
            if (string.Equals(c.Uid, uid, StringComparison.Ordinal))
            {
                return;
            }
            if (c.Uid is { } old)
            {
                RemoveFrom(_uids, old, c);
            }
            if (!_byId.ContainsKey(c.Sequence))
            {
                return; // closed meanwhile
            }
            c.Uid = uid;
            AddTo(_uids, uid, c);
        }
    }

    public void UnbindUid(ClientConnection c)
    {
        lock (_sync)
        {
            if (c.Uid is { } old)
            {
                RemoveFrom(_uids, old, c);
                c.Uid = null;
            }
        }
    }

    /// <summary>Adds the connection to a group; false when it is already in <paramref name="maxGroups"/> groups.</summary>
    public bool JoinGroup(ClientConnection c, string group, int maxGroups)
    {
        lock (_sync)
        {
            c.Groups ??= new List<string>(1);
            if (c.Groups.Contains(group))
            {
                return true;
            }
            if (c.Groups.Count >= maxGroups)
            {
                return false;
            }
            if (!_byId.ContainsKey(c.Sequence))
            {
                return true; // closed meanwhile
            }
            c.Groups.Add(group);
            AddTo(_groups, group, c);
            return true;
        }
    }

    public void LeaveGroup(ClientConnection c, string group)
    {
        lock (_sync)
        {
            if (c.Groups is { } groups && groups.Remove(group))
            {
                RemoveFrom(_groups, group, c);
                if (groups.Count == 0)
                {
                    c.Groups = null;
                }
            }
        }
    }

    public int Ungroup(string group)
    {
        lock (_sync)
        {
            if (!_groups.Remove(group, out var members))
            {
                return 0;
            }
            routing?.LocalInterest(Routing.InterestKind.Group, group, on: false);
            foreach (var c in members)
            {
                c.Groups?.Remove(group);
                if (c.Groups is { Count: 0 })
                {
                    c.Groups = null;
                }
            }
            return members.Count;
        }
    }

    /// <summary>
    /// Sends a frame to every member of the groups (once per connection), minus exclusions; returns how many queued it.
    /// Connections that could not queue it are counted by reason (push.gateway.pushes.undelivered).
    /// </summary>
    public int SendToGroups(IReadOnlyList<string> groups, HashSet<long>? exclude, OutboundFrame frame)
        => SendToGroups(groups, exclude, new ReadOnlySpan<OutboundFrame>(in frame));

    /// <summary>Sends a run of frames (in order) to every member of the groups; returns how many frames were queued in all.</summary>
    public int SendToGroups(IReadOnlyList<string> groups, HashSet<long>? exclude, ReadOnlySpan<OutboundFrame> frames)
    {
        using var gate = Gate.Enter();
        ClientConnection[] targets;
        int n;
        lock (_sync)
        {
            if (groups.Count == 1)
            {
                if (!_groups.TryGetValue(groups[0], out var members))
                {
                    return 0;
                }
                targets = ArrayPool<ClientConnection>.Shared.Rent(members.Count);
                members.CopyTo(targets);
                n = members.Count;
            }
            else
            {
                HashSet<ClientConnection>? union = null;
                foreach (var g in groups)
                {
                    if (_groups.TryGetValue(g, out var members))
                    {
                        union ??= new HashSet<ClientConnection>(members.Count);
                        union.UnionWith(members);
                    }
                }
                if (union is null)
                {
                    return 0;
                }
                targets = ArrayPool<ClientConnection>.Shared.Rent(union.Count);
                union.CopyTo(targets);
                n = union.Count;
            }
        }
        return SendAndReturn(targets, n, exclude, frames);
    }

    public int SendToUids(IReadOnlyList<string> uids, OutboundFrame frame)
    {
        using var gate = Gate.Enter();
        ClientConnection[] targets;
        var n = 0;
        lock (_sync)
        {
            var total = 0;
            foreach (var u in uids)
            {
                if (_uids.TryGetValue(u, out var set))
                {
                    total += set.Count;
                }
            }
            if (total == 0)
            {
                return 0;
            }
            targets = ArrayPool<ClientConnection>.Shared.Rent(total);
            // A connection has one uid, so only a uid named twice in the request could repeat a target.
            HashSet<string>? seen = uids.Count > 1 ? new HashSet<string>(StringComparer.Ordinal) : null;
            foreach (var u in uids)
            {
                if ((seen is null || seen.Add(u)) && _uids.TryGetValue(u, out var set))
                {
                    set.CopyTo(targets, n);
                    n += set.Count;
                }
            }
        }
        return SendAndReturn(targets, n, null, new ReadOnlySpan<OutboundFrame>(in frame));
    }

    public int SendToAll(HashSet<long>? exclude, OutboundFrame frame)
        => SendToAll(exclude, new ReadOnlySpan<OutboundFrame>(in frame));

    /// <summary>Sends a run of frames (in order) to every connection; returns how many frames were queued in all.</summary>
    public int SendToAll(HashSet<long>? exclude, ReadOnlySpan<OutboundFrame> frames)
    {
        using var gate = Gate.Enter();
        using var fanout = SendScheduler.BeginFanout();
        var sent = 0;
        foreach (var (seq, c) in _byId)
        {
            if (exclude is not null && exclude.Contains(seq))
            {
                continue;
            }
            sent += c.PushRun(frames, inline: false);
        }
        return sent;
    }

    private static int SendAndReturn(ClientConnection[] targets, int n, HashSet<long>? exclude, ReadOnlySpan<OutboundFrame> frames)
    {
        var sent = 0;
        var inline = n <= 4; // a few targets: pump on this thread; a fan-out: let each connection's pump coalesce
        using var fanout = inline ? default : SendScheduler.BeginFanout();
        try
        {
            for (var i = 0; i < n; i++)
            {
                var c = targets[i];
                if (exclude is not null && exclude.Contains(c.Sequence))
                {
                    continue;
                }
                sent += c.PushRun(frames, inline);
            }
        }
        finally
        {
            Array.Clear(targets, 0, n);
            ArrayPool<ClientConnection>.Shared.Return(targets);
        }
        return sent;
    }

    // ---- queries (local) ----

    public string[] GroupsOf(ClientConnection c)
    {
        lock (_sync)
        {
            return c.Groups is null ? [] : [.. c.Groups];
        }
    }

    public ClientConnection[] GroupMembers(string group)
    {
        lock (_sync)
        {
            return _groups.TryGetValue(group, out var m) ? [.. m] : [];
        }
    }

    public ClientConnection[] UidMembers(string uid)
    {
        lock (_sync)
        {
            return _uids.TryGetValue(uid, out var m) ? [.. m] : [];
        }
    }

    public int GroupSize(string group)
    {
        lock (_sync)
        {
            return _groups.TryGetValue(group, out var m) ? m.Count : 0;
        }
    }

    public bool HasUid(string uid)
    {
        lock (_sync)
        {
            return _uids.ContainsKey(uid);
        }
    }

    public string[] GroupNames()
    {
        lock (_sync)
        {
            return [.. _groups.Keys];
        }
    }

    public string[] UidNames()
    {
        lock (_sync)
        {
            return [.. _uids.Keys];
        }
    }

    public string[] UidsOfGroup(string group)
    {
        lock (_sync)
        {
            if (!_groups.TryGetValue(group, out var m))
            {
                return [];
            }
            var set = new HashSet<string>(StringComparer.Ordinal);
            foreach (var c in m)
            {
                if (c.Uid is { } u)
                {
                    set.Add(u);
                }
            }
            return [.. set];
        }
    }

    public Dictionary<string, string[]> AllGroupMembers()
    {
        lock (_sync)
        {
            return _groups.ToDictionary(kv => kv.Key, kv => kv.Value.Select(c => c.ClientId).ToArray(), StringComparer.Ordinal);
        }
    }

    public Dictionary<string, string[]> AllGroupUids()
    {
        lock (_sync)
        {
            var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
            foreach (var (g, m) in _groups)
            {
                var uids = m.Where(c => c.Uid is not null).Select(c => c.Uid!).Distinct(StringComparer.Ordinal).ToArray();
                if (uids.Length > 0)
                {
                    result[g] = uids;
                }
            }
            return result;
        }
    }

    // Under _sync. The interest hooks: a group or uid's first member here (0→1) and its last leaving (1→0).
    private void AddTo(Dictionary<string, HashSet<ClientConnection>> map, string key, ClientConnection c)
    {
        if (!map.TryGetValue(key, out var set))
        {
            set = new HashSet<ClientConnection>();
            map[key] = set;
            routing?.LocalInterest(KindOf(map), key, on: true);
        }
        set.Add(c);
    }

    private void RemoveFrom(Dictionary<string, HashSet<ClientConnection>> map, string key, ClientConnection c)
    {
        if (map.TryGetValue(key, out var set) && set.Remove(c) && set.Count == 0)
        {
            map.Remove(key);
            routing?.LocalInterest(KindOf(map), key, on: false);
        }
    }

    private Routing.InterestKind KindOf(Dictionary<string, HashSet<ClientConnection>> map)
        => ReferenceEquals(map, _groups) ? Routing.InterestKind.Group : Routing.InterestKind.Uid;
}
