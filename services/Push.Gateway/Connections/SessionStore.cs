namespace Push.Gateway.Connections;

/// <summary>Session operations on a connection (GatewayWorker's setSession/updateSession/getSession).</summary>
internal static class SessionStore
{
    /// <summary>Replaces or merges the session; false when the result would exceed <paramref name="maxSize"/>.</summary>
    public static bool Write(ClientConnection c, IEnumerable<KeyValuePair<string, string>> values, bool merge, int maxSize, bool workerHasIt)
    {
        lock (c.SessionSync)
        {
            var next = merge && c.Session is not null ? new Dictionary<string, string>(c.Session, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in values)
            {
                next[k] = v;
            }
            long size = 0;
            foreach (var (k, v) in next)
            {
                size += k.Length + v.Length;
            }
            if (size > maxSize)
            {
                return false;
            }
            // The worker already has the result only if it had the session before this write.
            var upToDate = c.SessionSentVersion == c.SessionVersion;
            c.Session = next.Count == 0 ? null : next;
            c.SessionVersion++;
            if (workerHasIt && upToDate)
            {
                c.SessionSentVersion = c.SessionVersion;
            }
            return true;
        }
    }

    public static Dictionary<string, string> Read(ClientConnection c)
    {
        lock (c.SessionSync)
        {
            return c.Session is null ? new Dictionary<string, string>(StringComparer.Ordinal) : new Dictionary<string, string>(c.Session, StringComparer.Ordinal);
        }
    }

    public static V1.Session ToProto(ClientConnection c)
    {
        var s = new V1.Session();
        lock (c.SessionSync)
        {
            if (c.Session is not null)
            {
                s.Values.Add(c.Session);
            }
        }
        return s;
    }
}
