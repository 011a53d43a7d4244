using System.Diagnostics.Metrics;
using Google.Protobuf.WellKnownTypes;
using Push.V1;

namespace Push.Registry.Membership;

/// <summary>The registry's only state: the members and their lease expiry. Watchers get a full snapshot after each change.</summary>
internal sealed class MemberTable
{
    private static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxTtl = TimeSpan.FromMinutes(10);

    private readonly Lock _sync = new();
    private readonly Dictionary<string, (Member Member, DateTimeOffset Expires)> _members = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _version;

    public MemberTable(TimeProvider time, IMeterFactory meters)
    {
        _time = time;
        var meter = meters.Create("Push.Registry");
        meter.CreateObservableGauge("push.registry.members", () => new[]
        {
            new Measurement<int>(Count(MemberRole.Gateway), new KeyValuePair<string, object?>("push.role", "gateway")),
            new Measurement<int>(Count(MemberRole.Worker), new KeyValuePair<string, object?>("push.role", "worker")),
        }, "{member}", "Live members of the cluster by role.");
    }

    public long Version { get { lock (_sync) { return _version; } } }

    public TimeSpan Register(Member member)
    {
        var ttl = member.LeaseTtl?.ToTimeSpan() ?? TimeSpan.FromSeconds(5);
        ttl = ttl < MinTtl ? MinTtl : ttl > MaxTtl ? MaxTtl : ttl;
        var stored = member.Clone();
        stored.LeaseTtl = Duration.FromTimeSpan(ttl);
        lock (_sync)
        {
            var isNew = !_members.TryGetValue(member.Id, out var old) || !old.Member.Equals(stored);
            _members[member.Id] = (stored, _time.GetUtcNow() + ttl);
            if (isNew)
            {
                SignalLocked();
            }
        }
        return ttl;
    }

    public TimeSpan? KeepAlive(string id)
    {
        lock (_sync)
        {
            if (!_members.TryGetValue(id, out var entry))
            {
                return null;
            }
            var ttl = entry.Member.LeaseTtl.ToTimeSpan();
            _members[id] = (entry.Member, _time.GetUtcNow() + ttl);
            return ttl;
        }
    }

    public bool Remove(string id)
    {
        lock (_sync)
        {
            if (_members.Remove(id))
            {
                SignalLocked();
                return true;
            }
            return false;
        }
    }

    /// <summary>Drops every member whose lease lapsed; returns the ids dropped.</summary>
    public IReadOnlyList<string> Sweep()
    {
        var now = _time.GetUtcNow();
        List<string>? dropped = null;
        lock (_sync)
        {
            foreach (var (id, entry) in _members)
            {
                if (entry.Expires <= now)
                {
                    (dropped ??= []).Add(id);
                }
            }
            if (dropped is not null)
            {
                foreach (var id in dropped)
                {
                    _members.Remove(id);
                }
                SignalLocked();
            }
        }
        return (IReadOnlyList<string>?)dropped ?? [];
    }

    public (Member[] Members, Task Changed) Snapshot(MemberRole role)
    {
        lock (_sync)
        {
            var list = _members.Values.Select(e => e.Member)
                .Where(m => role == MemberRole.Unspecified || m.Role == role)
                .OrderBy(m => m.Id, StringComparer.Ordinal)
                .ToArray();
            return (list, _changed.Task);
        }
    }

    private int Count(MemberRole role)
    {
        lock (_sync)
        {
            return _members.Values.Count(e => e.Member.Role == role);
        }
    }

    private void SignalLocked()
    {
        _version++;
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }
}
