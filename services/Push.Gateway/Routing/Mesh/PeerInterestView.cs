using Push.V1;

namespace Push.Gateway.Routing.Mesh;

/// <summary>
/// What this gateway knows of one other gateway's interest, from its Watch stream: the groups and uids with members
/// there, the version applied, and the lease its last grant gave. Stale (no snapshot yet, a gap, no lease) means
/// "may host anything": that gateway gets every push. No sockets here: <see cref="MeshInterestClient"/> feeds it.
/// </summary>
internal sealed class PeerInterestView(string gatewayId, TimeProvider time)
{
    private readonly Lock _sync = new();
    private HashSet<string> _groups = new(StringComparer.Ordinal);
    private HashSet<string> _uids = new(StringComparer.Ordinal);
    // Acknowledgements sent and when (their grants start the lease from then); only the last few are kept.
    private readonly Queue<(ulong Id, long At)> _acks = new();
    private bool _complete;
    private bool _building;
    private long _version;
    private long _validUntil;
    private ulong _nextAck;

    public string GatewayId { get; } = gatewayId;

    public long Version { get { lock (_sync) { return _version; } } }

    /// <summary>True while its view may be routed by: a complete snapshot, no gap, a lease not run out.</summary>
    public bool InSync { get { lock (_sync) { return IsValid(time.GetTimestamp()); } } }

    /// <summary>A snapshot chunk; false when it does not fit (another gateway at the address, a chunk out of place).</summary>
    public bool ApplySnapshot(InterestSnapshot chunk)
    {
        lock (_sync)
        {
            if (!string.Equals(chunk.GatewayId, GatewayId, StringComparison.Ordinal) || _complete)
            {
                return false;
            }
            if (!_building)
            {
                _building = true;
                _groups = new HashSet<string>(StringComparer.Ordinal);
                _uids = new HashSet<string>(StringComparer.Ordinal);
                _version = (long)chunk.Version;
            }
            else if ((long)chunk.Version != _version)
            {
                return false;
            }
            _groups.UnionWith(chunk.Groups);
            _uids.UnionWith(chunk.Uids);
            if (chunk.Last)
            {
                _building = false;
                _complete = true;
            }
            return true;
        }
    }

    /// <summary>Changes; false on a version gap (the stream must be dropped and the view rebuilt).</summary>
    public bool ApplyChanges(InterestChanges changes)
    {
        lock (_sync)
        {
            if (!_complete || (long)changes.FirstVersion != _version + 1)
            {
                return false;
            }
            foreach (var c in changes.Changes)
            {
                var set = c.Kind switch
                {
                    InterestChangeKind.Group => _groups,
                    InterestChangeKind.Uid => _uids,
                    _ => null,
                };
                if (set is null)
                {
                    return false;
                }
                if (c.On)
                {
                    set.Add(c.Name);
                }
                else
                {
                    set.Remove(c.Name);
                }
                _version++;
            }
            return true;
        }
    }

    /// <summary>The acknowledgement to send now (null before the snapshot is complete); its send time starts the lease its grant gives.</summary>
    public WatchRequest? NextAck(string selfId)
    {
        lock (_sync)
        {
            if (!_complete)
            {
                return null;
            }
            var id = ++_nextAck;
            _acks.Enqueue((id, time.GetTimestamp()));
            while (_acks.Count > 64)
            {
                _acks.Dequeue();
            }
            return new WatchRequest { GatewayId = selfId, AckedVersion = (ulong)_version, AckId = id };
        }
    }

    /// <summary>A grant: false when it names another version than the one applied (a gap).</summary>
    public bool ApplyGrant(InterestGrant grant)
    {
        lock (_sync)
        {
            if (!_complete || (long)grant.Version != _version)
            {
                return false;
            }
            foreach (var (id, at) in _acks)
            {
                if (id == grant.AckId)
                {
                    var until = at + (long)(grant.LeaseMs / 1000.0 * time.TimestampFrequency);
                    if (until > _validUntil)
                    {
                        _validUntil = until;
                    }
                    break;
                }
            }
            return true;
        }
    }

    /// <summary>The stream ended or broke: nothing is known until a new snapshot and grant.</summary>
    public void Invalidate()
    {
        lock (_sync)
        {
            _complete = false;
            _building = false;
            _validUntil = 0;
            _acks.Clear();
            _groups = new HashSet<string>(StringComparer.Ordinal);
            _uids = new HashSet<string>(StringComparer.Ordinal);
        }
    }

    /// <summary>Null when the view is stale (the gateway may host anything); else whether it hosts one of the names.</summary>
    public bool? Hosts(InterestKind? kind, IReadOnlyList<string> names)
    {
        lock (_sync)
        {
            if (!IsValid(time.GetTimestamp()))
            {
                return null;
            }
            foreach (var n in names)
            {
                if ((kind != InterestKind.Uid && _groups.Contains(n)) || (kind != InterestKind.Group && _uids.Contains(n)))
                {
                    return true;
                }
            }
            return false;
        }
    }

    private bool IsValid(long now) => _complete && now < _validUntil;
}
