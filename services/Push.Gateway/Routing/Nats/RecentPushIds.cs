namespace Push.Gateway.Routing.Nats;

/// <summary>
/// The ids of the last <see cref="Capacity"/> multi-subject pushes this gateway took (a ring plus a set): a push published
/// on several subjects (a SendToGroup naming groups this gateway has members of) arrives once per subject, and only the
/// first copy is delivered, to every local target of the whole request (as a local SendToGroups takes each connection
/// once). The copies of one push are published back to back, so they arrive long before the id leaves the ring.
/// Used from the NATS reader only (no lock needed; locked anyway to stay safe if that changes).
/// </summary>
internal sealed class RecentPushIds(int capacity = RecentPushIds.DefaultCapacity)
{
    public const int DefaultCapacity = 16384;

    private readonly ulong[] _ring = new ulong[capacity];
    private readonly HashSet<ulong> _set = new(capacity);
    private readonly Lock _sync = new();
    private int _next;

    public int Capacity => _ring.Length;

    /// <summary>True the first time an id is seen (while it is among the last <see cref="Capacity"/>).</summary>
    public bool TryAdd(ulong id)
    {
        lock (_sync)
        {
            if (!_set.Add(id))
            {
                return false;
            }
            var old = _ring[_next];
            if (old != 0)
            {
                _set.Remove(old);
            }
            _ring[_next] = id;
            _next = (_next + 1) % _ring.Length;
            return true;
        }
    }
}
