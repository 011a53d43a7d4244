using System.Collections.Concurrent;

namespace Push.Gateway.Resume;

/// <summary>
/// Client ids that moved from this gateway to another (they resumed there), kept for Gateway:ResumeWindow: client-id
/// operations for them are forwarded there, and a client that comes back here with its resume token is taken back.
/// </summary>
internal sealed class MovedClients
{
    private readonly ConcurrentDictionary<string, (string GatewayId, string Address, long Until)> _moved = new(StringComparer.Ordinal);

    public bool IsEmpty => _moved.IsEmpty;

    public void Set(string clientId, string gatewayId, string address, long until) => _moved[clientId] = (gatewayId, address, until);

    public bool TryGet(string clientId, out (string GatewayId, string Address, long Until) entry)
    {
        if (_moved.IsEmpty)
        {
            entry = default;
            return false;
        }
        return _moved.TryGetValue(clientId, out entry);
    }

    public void Remove(string clientId) => _moved.TryRemove(clientId, out _);

    /// <summary>Forgets moves older than their window.</summary>
    public void Prune(long now)
    {
        if (_moved.IsEmpty)
        {
            return;
        }
        foreach (var (id, entry) in _moved)
        {
            if (now > entry.Until)
            {
                _moved.TryRemove(id, out _);
            }
        }
    }
}
