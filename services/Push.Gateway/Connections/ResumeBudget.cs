namespace Push.Gateway.Connections;

/// <summary>
/// The gateway-wide bound on what resumable connections retain (Gateway:ResumeBudgetBytes), and where a connection
/// reports that it ended because its tail no longer fit while nobody was attached.
/// </summary>
internal sealed class ResumeBudget(long limitBytes)
{
    private long _bytes;

    /// <summary>Called (outside every connection lock) when a detached connection overflowed and must end.</summary>
    public Action<ClientConnection, string>? OnLost { get; set; }

    public long LimitBytes => limitBytes;

    /// <summary>Bytes retained by every resumable connection of this gateway now.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    public bool TryTake(long bytes)
    {
        if (Interlocked.Add(ref _bytes, bytes) <= limitBytes)
        {
            return true;
        }
        Interlocked.Add(ref _bytes, -bytes);
        return false;
    }

    public void Release(long bytes) => Interlocked.Add(ref _bytes, -bytes);

    public void Lost(ClientConnection connection, string reason) => OnLost?.Invoke(connection, reason);
}
