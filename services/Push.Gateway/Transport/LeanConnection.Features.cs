using System.Collections;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Push.Gateway.Transport;

/// <summary>
/// The connection is its own feature collection: the connection features it implements are answered by itself, and
/// what Kestrel or a middleware sets (heartbeat, completion, lifetime notification, metrics, TLS) lives in one small
/// array rather than a dictionary.
/// </summary>
internal sealed partial class LeanConnection : IFeatureCollection, IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature,
    IConnectionEndPointFeature, IConnectionLifetimeFeature, IConnectionSocketFeature
{
    private KeyValuePair<Type, object>[]? _features;
    private int _featureCount;
    private int _revision;

    public override IFeatureCollection Features => this;

    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _revision;

    object? IFeatureCollection.this[Type key]
    {
        get
        {
            var features = _features;
            for (var i = 0; i < _featureCount; i++)
            {
                if (features![i].Key == key)
                {
                    return features[i].Value;
                }
            }
            return IsOwnFeature(key) ? this : null;
        }
        set
        {
            _revision++;
            for (var i = 0; i < _featureCount; i++)
            {
                if (_features![i].Key == key)
                {
                    if (value is null)
                    {
                        Array.Copy(_features, i + 1, _features, i, _featureCount - i - 1);
                        _features[--_featureCount] = default;
                    }
                    else
                    {
                        _features[i] = new(key, value);
                    }
                    return;
                }
            }
            if (value is null)
            {
                return;
            }
            if (_features is null || _featureCount == _features.Length)
            {
                // Grown one at a time: Kestrel sets about five features once per connection, and the array lives as long as it.
                Array.Resize(ref _features, _featureCount + 1);
            }
            _features[_featureCount++] = new(key, value);
        }
    }

    Socket IConnectionSocketFeature.Socket => _socket;

    TFeature? IFeatureCollection.Get<TFeature>()
        where TFeature : default => (TFeature?)((IFeatureCollection)this)[typeof(TFeature)];

    void IFeatureCollection.Set<TFeature>(TFeature? instance)
        where TFeature : default => ((IFeatureCollection)this)[typeof(TFeature)] = instance;

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        for (var i = 0; i < _featureCount; i++)
        {
            yield return _features![i];
        }
        foreach (var own in OwnFeatures)
        {
            if (!Stored(own))
            {
                yield return new(own, this);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();

    private static readonly Type[] OwnFeatures =
    [
        typeof(IConnectionIdFeature), typeof(IConnectionTransportFeature), typeof(IConnectionItemsFeature),
        typeof(IConnectionEndPointFeature), typeof(IConnectionLifetimeFeature), typeof(IConnectionSocketFeature),
    ];

    private static bool IsOwnFeature(Type key) => Array.IndexOf(OwnFeatures, key) >= 0;

    private bool Stored(Type key)
    {
        for (var i = 0; i < _featureCount; i++)
        {
            if (_features![i].Key == key)
            {
                return true;
            }
        }
        return false;
    }
}
