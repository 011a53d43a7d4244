using Push.Gateway.Routing;
using Push.Gateway.Routing.Mesh;
using Push.V1;

namespace Push.UnitTests.Routing;

/// <summary>The served side of the mesh interest: versions, acknowledgements, grants and when a join's sync may complete.</summary>
public sealed class InterestLogTests
{
    private readonly InterestHarness _h = new();

    private static Task Completes(Task sync) => sync.WaitAsync(TimeSpan.FromSeconds(10));

    [Fact]
    public void Apply_OnlyTransitions_GetAVersion()
    {
        _h.Log.Apply(InterestKind.Group, "g", true);
        _h.Log.Apply(InterestKind.Group, "g", true); // already on: not a transition
        _h.Log.Apply(InterestKind.Uid, "g", true);   // a uid of the same name is another thing
        _h.Log.Apply(InterestKind.Group, "x", false); // never on
        Assert.Equal(2, _h.Log.Version);
        _h.Log.Apply(InterestKind.Group, "g", false);
        Assert.Equal(3, _h.Log.Version);
    }

    [Fact]
    public void Sync_WithoutWatchers_CompletesAtOnce()
    {
        _h.Log.Apply(InterestKind.Group, "g", true);
        Assert.True(_h.Log.SyncAsync(default).AsTask().IsCompletedSuccessfully);
    }

    [Fact]
    public void Sync_WatcherNeverGranted_DoesNotWait()
    {
        var (w, view) = _h.Open();
        _h.Log.Apply(InterestKind.Group, "g", true);
        // It never had a lease: it sends this gateway every push, so nobody routes by a view without "g".
        Assert.True(_h.Log.SyncAsync(default).AsTask().IsCompletedSuccessfully);
        Assert.Null(view.Hosts(InterestKind.Group, ["g"]));
        Assert.NotNull(w);
    }

    [Fact]
    public async Task Sync_WaitsForTheAcknowledgement_ThenTheViewHasTheChange()
    {
        var (w, view) = _h.InSync();
        Assert.False(view.Hosts(InterestKind.Group, ["g"]));
        _h.Log.Apply(InterestKind.Group, "g", true);
        var sync = _h.Log.SyncAsync(default).AsTask();
        Assert.False(sync.IsCompleted);
        Assert.True(_h.Deliver(w, view));
        Assert.False(sync.IsCompleted); // applied but not acknowledged yet
        Assert.True(view.Hosts(InterestKind.Group, ["g"]));
        Assert.True(_h.Ack(w, view));
        await Completes(sync);
        Assert.True(_h.Log.SyncAsync(default).AsTask().IsCompletedSuccessfully); // nothing new
    }

    [Fact]
    public async Task Sync_SilentWatcher_CompletesWhenItsLeaseRunsOut_AndItsViewIsStaleByThen()
    {
        var waited = 0;
        _h.Log.LeaseWaited = () => waited++;
        var (_, view) = _h.InSync();
        _h.Time.Advance(TimeSpan.FromSeconds(1));
        _h.Log.Apply(InterestKind.Uid, "u", true);
        var sync = _h.Log.SyncAsync(default).AsTask();
        _h.Time.Advance(InterestHarness.Lease - TimeSpan.FromSeconds(1) - TimeSpan.FromMilliseconds(1));
        await Task.Delay(50);
        Assert.False(sync.IsCompleted);
        Assert.True(view.InSync); // its lease (from when it sent the acknowledgement) is not over yet
        _h.Time.Advance(_h.Log.Margin + TimeSpan.FromMilliseconds(2));
        await Completes(sync);
        Assert.Equal(1, waited);
        Assert.False(view.InSync); // over before the served gateway stopped waiting
        Assert.Null(view.Hosts(InterestKind.Uid, ["u"]));
    }

    [Fact]
    public async Task Sync_GrantAfterTheChange_DoesNotExtendTheWaitForTheOldLease()
    {
        var (w, view) = _h.InSync(); // grant at t0 on version 0
        _h.Log.Apply(InterestKind.Group, "g", true);
        var sync = _h.Log.SyncAsync(default).AsTask();
        _h.Time.Advance(TimeSpan.FromSeconds(1));
        // The watcher renews with an acknowledgement of version 0 (sent before it got the change): its grant comes
        // after the change on the stream, so the new lease is on a view with "g".
        Assert.True(_h.Ack(w, view));
        Assert.True(_h.Deliver(w, view));
        Assert.True(view.Hosts(InterestKind.Group, ["g"]));
        Assert.False(sync.IsCompleted);
        _h.Time.Advance(InterestHarness.Lease + _h.Log.Margin - TimeSpan.FromSeconds(1));
        await Completes(sync);
    }

    [Fact]
    public async Task Sync_ClosedStream_WaitsForItsLease_ThenForgetsIt()
    {
        var (w, _) = _h.InSync();
        _h.Log.Close(w);
        _h.Log.Apply(InterestKind.Group, "g", true);
        var sync = _h.Log.SyncAsync(default).AsTask();
        Assert.False(sync.IsCompleted);
        _h.Time.Advance(InterestHarness.Lease + _h.Log.Margin);
        await Completes(sync);
        Assert.Equal(0, _h.Log.WatcherCount);
        _h.Log.Apply(InterestKind.Group, "h", true);
        Assert.True(_h.Log.SyncAsync(default).AsTask().IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Sync_IsCancellable()
    {
        _h.InSync();
        _h.Log.Apply(InterestKind.Group, "g", true);
        using var cts = new CancellationTokenSource();
        var sync = _h.Log.SyncAsync(cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sync.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Acknowledge_OfAVersionNeverSent_IsRefused()
    {
        var (w, view) = _h.InSync();
        _h.Log.Apply(InterestKind.Group, "g", true); // not taken yet: not sent
        Assert.False(_h.Log.Acknowledge(w, 1, 99));
        Assert.True(_h.Deliver(w, view));
        Assert.True(_h.Log.Acknowledge(w, 1, 100));
        Assert.False(_h.Log.Acknowledge(w, 0, 101)); // going back
    }

    [Fact]
    public void Take_WatcherBehindTheLogCap_IsDropped()
    {
        var h = new InterestHarness(maxLog: 4);
        var (w, view) = h.InSync();
        for (var i = 0; i < 6; i++)
        {
            h.Log.Apply(InterestKind.Group, "g" + i, true);
        }
        Assert.Null(h.Log.Take(w));
        view.Invalidate();
        var (w2, view2) = h.InSync(); // a new stream starts from a snapshot with everything
        Assert.True(view2.Hosts(InterestKind.Group, ["g0"]));
        Assert.True(view2.Hosts(InterestKind.Group, ["g5"]));
        Assert.NotNull(w2);
    }

    [Fact]
    public void Log_IsTrimmed_ToWhatSomeOpenWatcherStillNeeds()
    {
        var (w, view) = _h.InSync();
        for (var i = 0; i < 100; i++)
        {
            _h.Log.Apply(InterestKind.Group, "g" + i, true);
            Assert.True(_h.Deliver(w, view));
        }
        var (w2, view2) = _h.InSync();
        _h.Log.Apply(InterestKind.Group, "last", true);
        Assert.True(_h.Deliver(w, view));
        Assert.True(_h.Deliver(w2, view2));
        Assert.Equal(101, view.Version);
        Assert.Equal(101, view2.Version);
        Assert.True(view2.Hosts(InterestKind.Group, ["g42"]));
    }

    [Fact]
    public async Task ReplacedStream_OfTheSamePeer_IsWaitedForUntilItsLeaseRunsOut()
    {
        var (old, _) = _h.InSync();
        var (w, view) = _h.InSync(); // the same peer reconnected; the old stream has not ended here yet
        _h.Log.Apply(InterestKind.Group, "g", true);
        var sync = _h.Log.SyncAsync(default).AsTask();
        Assert.True(_h.Deliver(w, view));
        Assert.True(_h.Ack(w, view));
        Assert.False(sync.IsCompleted);
        _h.Log.Close(old);
        _h.Time.Advance(InterestHarness.Lease + _h.Log.Margin);
        await Completes(sync);
    }
}
