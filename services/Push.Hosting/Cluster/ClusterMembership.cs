using Push.V1;

namespace Push.Hosting.Cluster;

/// <summary>
/// The cluster view of this process: the union of what the registries it talks to report.
/// Registries that are down keep contributing their last snapshot only while no registry is up,
/// so a lost registry never empties the view.
/// </summary>
internal sealed class ClusterMembership
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, (Member[] Members, bool Up)> _byRegistry = new(StringComparer.Ordinal);
    private volatile Member[] _members = [];
    private volatile Member[] _gateways = [];
    private volatile Member[] _workers = [];

    /// <summary>Raised (outside any lock) after the view changed.</summary>
    public event Action? Changed;

    public IReadOnlyList<Member> Members => _members;
    public IReadOnlyList<Member> Gateways => _gateways;
    public IReadOnlyList<Member> Workers => _workers;

    /// <summary>Whether at least one registry answered recently.</summary>
    public bool AnyRegistryUp
    {
        get { lock (_sync) { return _byRegistry.Values.Any(v => v.Up); } }
    }

    public int RegistriesUp
    {
        get { lock (_sync) { return _byRegistry.Values.Count(v => v.Up); } }
    }

    public Member? FindGateway(string id)
    {
        foreach (var m in _gateways)
        {
            if (string.Equals(m.Id, id, StringComparison.Ordinal))
            {
                return m;
            }
        }
        return null;
    }

    public void Update(string registry, IEnumerable<Member> members)
    {
        lock (_sync)
        {
            _byRegistry[registry] = (members.ToArray(), true);
            Rebuild();
        }
        Changed?.Invoke();
    }

    public void MarkDown(string registry)
    {
        bool changed;
        lock (_sync)
        {
            if (!_byRegistry.TryGetValue(registry, out var entry) || !entry.Up)
            {
                return;
            }
            _byRegistry[registry] = (entry.Members, false);
            var before = _members;
            Rebuild();
            changed = !ReferenceEquals(before, _members);
        }
        if (changed)
        {
            Changed?.Invoke();
        }
    }

    private void Rebuild()
    {
        var anyUp = _byRegistry.Values.Any(v => v.Up);
        if (!anyUp)
        {
            return; // keep the last known view
        }
        var merged = new Dictionary<string, Member>(StringComparer.Ordinal);
        foreach (var (members, up) in _byRegistry.Values)
        {
            if (!up)
            {
                continue;
            }
            foreach (var m in members)
            {
                merged.TryAdd(m.Id, m);
            }
        }
        var all = merged.Values.OrderBy(m => m.Id, StringComparer.Ordinal).ToArray();
        _members = all;
        _gateways = all.Where(m => m.Role == MemberRole.Gateway).ToArray();
        _workers = all.Where(m => m.Role == MemberRole.Worker).ToArray();
    }
}
