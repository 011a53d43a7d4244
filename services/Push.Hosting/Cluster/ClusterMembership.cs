using Push.V1;

namespace Push.Hosting.Cluster;

/// <summary>
/// The cluster view of this process: the union of what the registries it talks to report.
/// Registries that are down keep contributing their last snapshot only while no registry is up,
/// so a lost registry never empties the view. A registry that answers again after being down is "settling": a restarted
/// registry starts empty and is repopulated as members re-register, so while every registry that is up is settling,
/// the view only grows (members of the last view are kept) and members that did not come back are dropped when the
/// registry settles (<see cref="Settle"/>, one lease after it answered).
/// </summary>
internal sealed class ClusterMembership
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, (Member[] Members, bool Up, bool Settled)> _byRegistry = new(StringComparer.Ordinal);
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

    /// <summary>
    /// A snapshot from a registry. The first one after the registry was down starts its settling time; the first
    /// contact ever does not (this process has no earlier view to keep).
    /// </summary>
    public void Update(string registry, IEnumerable<Member> members)
    {
        lock (_sync)
        {
            var settled = !_byRegistry.TryGetValue(registry, out var entry) || (entry.Up && entry.Settled);
            _byRegistry[registry] = (members.ToArray(), true, settled);
            Rebuild();
        }
        Changed?.Invoke();
    }

    /// <summary>
    /// The registry has been answering for a lease: every live member has re-registered with it by now, so members
    /// it does not list are gone.
    /// </summary>
    public void Settle(string registry)
    {
        bool changed;
        lock (_sync)
        {
            if (!_byRegistry.TryGetValue(registry, out var entry) || !entry.Up || entry.Settled)
            {
                return;
            }
            _byRegistry[registry] = (entry.Members, true, true);
            var before = _members;
            Rebuild();
            changed = !ReferenceEquals(before, _members);
        }
        if (changed)
        {
            Changed?.Invoke();
        }
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
            _byRegistry[registry] = (entry.Members, false, false);
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
        foreach (var (members, up, _) in _byRegistry.Values)
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
        if (!_byRegistry.Values.Any(v => v.Up && v.Settled))
        {
            // Only settling registries answer (e.g. one that restarted empty): their lists may still be partial.
            foreach (var m in _members)
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
