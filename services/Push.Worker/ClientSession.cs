using System.Collections;

namespace Push.Worker;

/// <summary>
/// A client's session (GatewayWorker's $_SESSION): read it in any callback, change it and the change is written back
/// to the gateway when the callback returns.
/// </summary>
public sealed class ClientSession : IEnumerable<KeyValuePair<string, string>>
{
    private readonly Dictionary<string, string> _values;

    internal ClientSession(IDictionary<string, string>? values = null)
    {
        _values = values is null ? new(StringComparer.Ordinal) : new(values, StringComparer.Ordinal);
    }

    internal bool Dirty { get; set; }

    /// <summary>Keys set since the last write-back (null when none); a removal forces a full replace.</summary>
    internal HashSet<string>? Changed { get; private set; }

    internal bool Removed { get; private set; }

    internal void ResetChanges()
    {
        Dirty = false;
        Removed = false;
        Changed = null;
    }

    internal Dictionary<string, string> Values => _values;

    /// <summary>Number of entries.</summary>
    public int Count => _values.Count;

    /// <summary>Gets or sets an entry (a missing key reads as null).</summary>
    public string? this[string key]
    {
        get => _values.TryGetValue(key, out var v) ? v : null;
        set
        {
            if (value is null)
            {
                Remove(key);
            }
            else if (!_values.TryGetValue(key, out var old) || old != value)
            {
                _values[key] = value;
                (Changed ??= new HashSet<string>(StringComparer.Ordinal)).Add(key);
                Dirty = true;
            }
        }
    }

    /// <summary>Tries to read an entry.</summary>
    public bool TryGetValue(string key, out string value) => _values.TryGetValue(key, out value!);

    /// <summary>Removes an entry.</summary>
    public bool Remove(string key)
    {
        var removed = _values.Remove(key);
        Dirty |= removed;
        Removed |= removed;
        return removed;
    }

    /// <summary>Removes every entry.</summary>
    public void Clear()
    {
        Dirty |= _values.Count > 0;
        Removed |= _values.Count > 0;
        _values.Clear();
    }

    internal void Replace(IDictionary<string, string> values)
    {
        _values.Clear();
        foreach (var (k, v) in values)
        {
            _values[k] = v;
        }
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
