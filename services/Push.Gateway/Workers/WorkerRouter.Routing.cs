using Push.Gateway.Connections;
using Push.Gateway.WebSockets;
using Push.V1;

namespace Push.Gateway.Workers;

/// <summary>
/// How events reach workers. Locks, always taken in this order: <see cref="_rerouteSync"/> (a link's queue closes and
/// its events move only under it), a connection's SessionSync (its pin and session bookkeeping), a link queue's own lock.
/// A post whose pin is live goes straight into that link's queue under the connection's lock; a post that finds its
/// link closed takes the reroute lock, so it waits until the events that link had queued were moved, and lands after
/// them: one client's events keep their order across a reroute.
/// </summary>
internal sealed partial class WorkerRouter
{
    private readonly Lock _rerouteSync = new();

    /// <summary>Hands an event to the connection's worker; the task completes when the link admitted it (backpressure).</summary>
    public ValueTask PostAsync(ClientConnection c, Event e, CancellationToken ct)
    {
        var admitted = Post(c, e, out _);
        return admitted.IsCompleted ? ValueTask.CompletedTask : new ValueTask(admitted.WaitAsync(ct));
    }

    /// <summary>
    /// As <see cref="PostAsync(ClientConnection, Event, CancellationToken)"/>, waiting until <paramref name="connection"/>
    /// closes at most; its ConnectionClosed token is asked for only when the post must wait, so a connection that never
    /// waits never makes the transport's token source (idle memory per connection).
    /// </summary>
    public ValueTask PostAsync(ClientConnection c, Event e, Microsoft.AspNetCore.Connections.ConnectionContext connection)
    {
        var admitted = Post(c, e, out _);
        return admitted.IsCompleted ? ValueTask.CompletedTask : new ValueTask(admitted.WaitAsync(connection.ConnectionClosed));
    }

    /// <summary>Hands a connect event that waits for the worker's decision to a worker; false when none is open.</summary>
    public async ValueTask<bool> PostConnectAsync(ClientConnection c, Event e, CancellationToken ct)
    {
        var admitted = Post(c, e, out var routed);
        if (!admitted.IsCompleted)
        {
            try
            {
                await admitted.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The connect event keeps its place in line: the worker learns right after it that nobody waits.
                PostClose(c, new Event
                {
                    ClientId = c.ClientId,
                    Close = new CloseEvent { Code = CloseCodes.Abnormal, Reason = "handshake abandoned while the worker link was full", HandshakeAbandoned = true },
                });
                throw;
            }
        }
        return routed;
    }

    /// <summary>Releases the worker pin of a connection that never connected (its handshake was rejected).</summary>
    public static void Release(ClientConnection c)
    {
        lock (c.SessionSync)
        {
            c.ReleasePinLocked();
        }
    }

    /// <summary>
    /// Posts the close event of a connection and releases its worker pin. It never waits: over budget it takes its
    /// place in the link's line (one close per connection, so that line stays bounded) and is written in order.
    /// </summary>
    public void PostClose(ClientConnection c, Event e)
    {
        int size;
        lock (c.SessionSync)
        {
            Number(c, e);
            size = e.CalculateSize();
            if (c.HasLivePinLocked && c.Worker!.Queue.Post(e, size, c, out _) != PostResult.Closed)
            {
                c.ReleasePinLocked();
                return;
            }
        }
        lock (_rerouteSync)
        {
            lock (c.SessionSync)
            {
                var link = c.HasLivePinLocked ? c.Worker : Pick();
                c.ReleasePinLocked();
                if (link is null)
                {
                    NoWorker();
                }
                else if (link.Queue.Post(e, size, c, out _) == PostResult.Closed)
                {
                    metrics.EventDropped("link_closed"); // not reached: queues close only under the reroute lock
                }
            }
        }
    }

    private Task Post(ClientConnection c, Event e, out bool routed)
    {
        routed = true;
        Task admitted;
        lock (c.SessionSync)
        {
            if (c.HasLivePinLocked && TryPostLocked(c, c.Worker!, e, out admitted))
            {
                return admitted;
            }
        }
        lock (_rerouteSync)
        {
            lock (c.SessionSync)
            {
                if (!c.HasLivePinLocked)
                {
                    c.PinLocked(c.PinReleased ? null : Pick());
                }
                if (!c.HasLivePinLocked || c.Worker is not { } link)
                {
                    routed = false;
                    NoWorker();
                    return Task.CompletedTask;
                }
                if (TryPostLocked(c, link, e, out admitted))
                {
                    return admitted;
                }
            }
        }
        routed = false;
        metrics.EventDropped("link_closed"); // not reached: queues close only under the reroute lock
        return Task.CompletedTask;
    }

    // Caller holds c.SessionSync.
    private static bool TryPostLocked(ClientConnection c, WorkerLink link, Event e, out Task admitted)
    {
        Stamp(c, e);
        return link.Queue.Post(e, e.CalculateSize(), c, out admitted) != PostResult.Closed;
    }

    // Caller holds c.SessionSync: the connection's next event sequence, once (a moved event keeps its number).
    private static void Number(ClientConnection c, Event e)
    {
        if (e.Seq == 0)
        {
            e.Seq = ++c.EventSeq;
        }
    }

    // Caller holds c.SessionSync: the event's sequence, and the session when this worker does not have the current one.
    private static void Stamp(ClientConnection c, Event e)
    {
        Number(c, e);
        if (c.SessionSentVersion != c.SessionVersion)
        {
            var s = new Session();
            if (c.Session is not null)
            {
                s.Values.Add(c.Session);
            }
            e.Session = s;
            c.SessionSentVersion = c.SessionVersion;
        }
        if (c.Uid is { } uid)
        {
            e.Uid = uid;
        }
    }

    /// <summary>
    /// Closes a link's queue and moves every event its worker had not acknowledged, in order, to the remaining workers
    /// (those it had written or was writing go flagged redelivered, keeping their sequence): each connection is
    /// re-pinned (its new worker gets its full session with the first event) and its close event follows its other
    /// events. Events no worker can take are counted (no_worker).
    /// </summary>
    public void CloseAndReroute(WorkerLink link)
    {
        List<LinkQueue.Entry> entries;
        lock (_rerouteSync)
        {
            entries = link.Queue.Close(out var sent);
            if (entries.Count > 0)
            {
                metrics.EventsRedeliveredAdd(Reroute(entries, sent));
            }
        }
        foreach (var entry in entries)
        {
            entry.Admitted?.TrySetResult();
        }
    }

    // Caller holds _rerouteSync. Returns how many of the first <paramref name="sent"/> entries (written before) moved.
    // A connection's events move together while its SessionSync is held: the receive loop posts a new event under that
    // lock without the reroute lock (once the connection is re-pinned), so moving them one by one in the queue's order,
    // interleaved with other connections', let a new event overtake the connection's later moved ones.
    private int Reroute(List<LinkQueue.Entry> entries, int sent)
    {
        Dictionary<string, WorkerLink>? closing = null;
        var redelivered = 0;
        var byConnection = new Dictionary<ClientConnection, List<int>>(ReferenceEqualityComparer.Instance);
        var order = new List<(ClientConnection? Connection, int Index)>(entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var c = entries[i].Connection;
            if (c is null)
            {
                order.Add((null, i));
            }
            else if (byConnection.TryGetValue(c, out var list))
            {
                list.Add(i);
            }
            else
            {
                byConnection[c] = [i];
                order.Add((c, i));
            }
        }
        foreach (var (c, first) in order)
        {
            if (c is null)
            {
                redelivered += RerouteOne(entries, first, sent, ref closing);
                continue;
            }
            lock (c.SessionSync)
            {
                foreach (var i in byConnection[c])
                {
                    redelivered += RerouteOne(entries, i, sent, ref closing);
                }
            }
        }
        return redelivered;
    }

    // Caller holds _rerouteSync (and the entry's connection's SessionSync): moves one entry; 1 when it was a written one.
    private int RerouteOne(List<LinkQueue.Entry> entries, int i, int sent, ref Dictionary<string, WorkerLink>? closing)
    {
        var redelivered = 0;
        {
            var (e, _, c, _) = entries[i];
            WorkerLink? to = null;
            var pinned = false;
            if (c is not null && e.KindCase != Event.KindOneofCase.Close)
            {
                lock (c.SessionSync)
                {
                    if (!c.PinReleased)
                    {
                        pinned = true;
                        if (!c.HasLivePinLocked)
                        {
                            c.PinLocked(Pick());
                        }
                        to = c.HasLivePinLocked ? c.Worker : null;
                        if (to is not null)
                        {
                            Stamp(c, e);
                            if (to.Queue.Post(e, e.CalculateSize(), c, out _) == PostResult.Closed)
                            {
                                to = null;
                            }
                        }
                    }
                }
            }
            if (!pinned)
            {
                // The connection is gone (its pin released): its events go where its earlier ones went, its close last.
                to = closing is not null && closing.TryGetValue(e.ClientId, out var earlier) && earlier.IsOpen ? earlier : Pick();
                if (to is not null && to.Queue.Post(e, e.CalculateSize(), c, out _) == PostResult.Closed)
                {
                    to = null;
                }
            }
            if (to is null)
            {
                metrics.EventDropped("no_worker");
            }
            else
            {
                (closing ??= new(StringComparer.Ordinal))[e.ClientId] = to;
                if (i < sent)
                {
                    redelivered++;
                }
            }
        }
        return redelivered;
    }
}
