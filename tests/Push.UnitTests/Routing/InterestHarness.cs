using Microsoft.Extensions.Time.Testing;
using Push.Gateway.Routing;
using Push.Gateway.Routing.Mesh;
using Push.V1;

namespace Push.UnitTests.Routing;

/// <summary>
/// A served gateway's <see cref="LocalInterestLog"/> and one watcher's <see cref="PeerInterestView"/> of it, joined by
/// hand instead of a Watch stream: each call moves what the stream would carry, in the same order.
/// </summary>
internal sealed class InterestHarness
{
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);

    public InterestHarness(FakeTimeProvider? time = null, int maxLog = 1 << 16)
    {
        Time = time ?? new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 4, 0, 0, TimeSpan.Zero));
        Log = new LocalInterestLog(Time, Lease, maxLog);
    }

    public const string ServedId = "served000000000a";
    public const string WatcherId = "watcher00000000b";

    public FakeTimeProvider Time { get; }
    public LocalInterestLog Log { get; }

    /// <summary>Opens a stream: the watcher applies the snapshot (in chunks of <paramref name="chunk"/> names).</summary>
    public (LocalInterestLog.Watcher Watcher, PeerInterestView View) Open(int chunk = 2)
    {
        var (w, groups, uids, version) = Log.Open(WatcherId);
        var view = new PeerInterestView(ServedId, Time);
        var gi = 0;
        var ui = 0;
        do
        {
            var s = new InterestSnapshot { GatewayId = ServedId, Version = (ulong)version };
            while (gi < groups.Length && s.Groups.Count < chunk)
            {
                s.Groups.Add(groups[gi++]);
            }
            while (ui < uids.Length && s.Groups.Count + s.Uids.Count < chunk)
            {
                s.Uids.Add(uids[ui++]);
            }
            s.Last = gi == groups.Length && ui == uids.Length;
            Assert.True(view.ApplySnapshot(s));
        }
        while (gi < groups.Length || ui < uids.Length);
        return (w, view);
    }

    /// <summary>The watcher acknowledges what it applied (the served gateway receives it).</summary>
    public bool Ack(LocalInterestLog.Watcher w, PeerInterestView view)
    {
        var ack = view.NextAck(WatcherId);
        Assert.NotNull(ack);
        return Log.Acknowledge(w, (long)ack!.AckedVersion, ack.AckId);
    }

    /// <summary>The served gateway writes what is due (changes, then a grant) and the watcher applies it; false on a gap.</summary>
    public bool Deliver(LocalInterestLog.Watcher w, PeerInterestView view)
    {
        var batch = Log.Take(w);
        Assert.NotNull(batch);
        if (batch!.Changes.Count > 0)
        {
            var changes = new InterestChanges { FirstVersion = (ulong)batch.FirstVersion };
            foreach (var c in batch.Changes)
            {
                changes.Changes.Add(new InterestChange { Kind = c.Kind == InterestKind.Group ? InterestChangeKind.Group : InterestChangeKind.Uid, Name = c.Name, On = c.On });
            }
            if (!view.ApplyChanges(changes))
            {
                return false;
            }
        }
        if (batch.Grant is { } g)
        {
            return view.ApplyGrant(new InterestGrant { AckId = g.AckId, Version = (ulong)g.Version, LeaseMs = (uint)Log.Lease.TotalMilliseconds });
        }
        return true;
    }

    /// <summary>Snapshot, acknowledgement, grant: the watcher is in sync.</summary>
    public (LocalInterestLog.Watcher Watcher, PeerInterestView View) InSync()
    {
        var (w, view) = Open();
        Assert.True(Ack(w, view));
        Assert.True(Deliver(w, view));
        Assert.True(view.InSync);
        return (w, view);
    }
}
