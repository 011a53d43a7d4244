using System.Collections;
using System.Collections.ObjectModel;

namespace Push.Worker;

/// <summary>
/// A client's session (GatewayWorker's $_SESSION): read it in any callback, change it and the change is written back
/// to the gateway when the callback returns.
/// </summary>
public sealed class ClientSession : IEnumerable<KeyValuePair<string, string>>
{
    // Made at the first entry: a session read but never written holds no dictionary.
    private Dictionary<string, string>? _values;

    internal ClientSession()
    {
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

    internal IDictionary<string, string> Values => (IDictionary<string, string>?)_values ?? ReadOnlyDictionary<string, string>.Empty;

    private Dictionary<string, string> Writable => _values ??= new(StringComparer.Ordinal);

    /// <summary>Number of entries.</summary>
    public int Count => _values?.Count ?? 0;

    /// <summary>Gets or sets an entry (a missing key reads as null).</summary>
    public string? this[string key]
    {
        get => _values is not null && _values.TryGetValue(key, out var v) ? v : null;
        set
        {
            if (value is null)
            {
                Remove(key);
            }
            else if (_values is null || !_values.TryGetValue(key, out var old) || old != value)
            {
                Writable[key] = value;
                (Changed ??= new HashSet<string>(StringComparer.Ordinal)).Add(key);
                Dirty = true;
            }
        }
    }

    /// <summary>Tries to read an entry.</summary>
    public bool TryGetValue(string key, out string value)
    {
        if (_values is null)
        {
            ArgumentNullException.ThrowIfNull(key);
            value = null!;
            return false;
        }
        return _values.TryGetValue(key, out value!);
    }

    /// <summary>Removes an entry.</summary>
    public bool Remove(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var removed = _values is not null && _values.Remove(key);
        Dirty |= removed;
        Removed |= removed;
        return removed;
    }

    /// <summary>Removes every entry.</summary>
    public void Clear()
    {
        Dirty |= Count > 0;
        Removed |= Count > 0;
        _values?.Clear();
    }

    internal void Replace(IDictionary<string, string> values)
    {
        if (values.Count == 0)
        {
            _values?.Clear();
            return;
        }
        var into = Writable;
        into.Clear();
        foreach (var (k, v) in values)
        {
            into[k] = v;
        }
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _values is null ? ReadOnlyDictionary<string, string>.Empty.GetEnumerator() : _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
