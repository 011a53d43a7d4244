using Microsoft.Extensions.Time.Testing;
using Push.Gateway.Routing;
using Push.Gateway.Routing.Mesh;
using Push.V1;

namespace Push.UnitTests.Routing;

/// <summary>The watching side of the mesh interest: a view is routed by only while complete, gap-free and leased.</summary>
public sealed class PeerInterestViewTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 4, 0, 0, TimeSpan.Zero));
    private const string Id = "served000000000a";

    private PeerInterestView Synced(params string[] groups)
    {
        var v = new PeerInterestView(Id, _time);
        Assert.True(v.ApplySnapshot(new InterestSnapshot { GatewayId = Id, Version = 7, Groups = { groups }, Uids = { "u1" }, Last = true }));
        var ack = v.NextAck("me")!;
        Assert.Equal(7UL, ack.AckedVersion);
        Assert.True(v.ApplyGrant(new InterestGrant { AckId = ack.AckId, Version = 7, LeaseMs = 3000 }));
        return v;
    }

    [Fact]
    public void BeforeSnapshotAndGrant_IsStale()
    {
        var v = new PeerInterestView(Id, _time);
        Assert.Null(v.Hosts(InterestKind.Group, ["g"]));
        Assert.Null(v.NextAck("me")); // nothing to acknowledge yet
        Assert.True(v.ApplySnapshot(new InterestSnapshot { GatewayId = Id, Version = 1, Groups = { "g" }, Last = true }));
        Assert.Null(v.Hosts(InterestKind.Group, ["g"])); // complete but not leased
        Assert.False(v.InSync);
    }

    [Fact]
    public void InSync_AnswersByKind()
    {
        var v = Synced("g1", "g2");
        Assert.True(v.Hosts(InterestKind.Group, ["x", "g2"]));
        Assert.False(v.Hosts(InterestKind.Group, ["u1"]));
        Assert.True(v.Hosts(InterestKind.Uid, ["u1"]));
        Assert.True(v.Hosts(null, ["u1"])); // a batch names groups and uids alike
        Assert.False(v.Hosts(null, ["nobody"]));
    }

    [Fact]
    public void Changes_InOrder_Apply_AGap_IsRefused()
    {
        var v = Synced("g1");
        Assert.True(v.ApplyChanges(new InterestChanges { FirstVersion = 8, Changes = { new InterestChange { Kind = InterestChangeKind.Group, Name = "g2", On = true }, new InterestChange { Kind = InterestChangeKind.Group, Name = "g1", On = false } } }));
        Assert.Equal(9, v.Version);
        Assert.True(v.Hosts(InterestKind.Group, ["g2"]));
        Assert.False(v.Hosts(InterestKind.Group, ["g1"]));
        Assert.False(v.ApplyChanges(new InterestChanges { FirstVersion = 11, Changes = { new InterestChange { Kind = InterestChangeKind.Uid, Name = "u", On = true } } }));
        Assert.False(v.ApplyChanges(new InterestChanges { FirstVersion = 10, Changes = { new InterestChange { Kind = InterestChangeKind.Unspecified, Name = "u", On = true } } }));
    }

    [Fact]
    public void Grant_OnAnotherVersion_IsAGap()
    {
        var v = Synced();
        var ack = v.NextAck("me")!;
        Assert.False(v.ApplyGrant(new InterestGrant { AckId = ack.AckId, Version = 8, LeaseMs = 3000 }));
    }

    [Fact]
    public void Lease_RunsFromTheAcknowledgement_AndIsRenewed()
    {
        var v = new PeerInterestView(Id, _time);
        Assert.True(v.ApplySnapshot(new InterestSnapshot { GatewayId = Id, Version = 0, Groups = { "g" }, Last = true }));
        var ack = v.NextAck("me")!;
        _time.Advance(TimeSpan.FromSeconds(2)); // the grant came late: the lease still counts from the acknowledgement
        Assert.True(v.ApplyGrant(new InterestGrant { AckId = ack.AckId, Version = 0, LeaseMs = 3000 }));
        Assert.True(v.InSync);
        _time.Advance(TimeSpan.FromMilliseconds(999));
        var renew = v.NextAck("me")!;
        Assert.True(v.ApplyGrant(new InterestGrant { AckId = renew.AckId, Version = 0, LeaseMs = 3000 }));
        _time.Advance(TimeSpan.FromMilliseconds(2));
        Assert.True(v.InSync); // renewed at 2.999 s: until 5.999 s
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.False(v.InSync);
        Assert.Null(v.Hosts(InterestKind.Group, ["g"]));
    }

    [Fact]
    public void UnknownAck_GivesNoLease()
    {
        var v = new PeerInterestView(Id, _time);
        Assert.True(v.ApplySnapshot(new InterestSnapshot { GatewayId = Id, Version = 0, Last = true }));
        Assert.True(v.ApplyGrant(new InterestGrant { AckId = 42, Version = 0, LeaseMs = 3000 }));
        Assert.False(v.InSync);
    }

    [Fact]
    public void Snapshot_InChunks_OfAnotherGateway_OrMixedVersions_IsRefused()
    {
        var v = new PeerInterestView(Id, _time);
        Assert.False(v.ApplySnapshot(new InterestSnapshot { GatewayId = "another00000000c", Version = 1, Last = true }));
        Assert.True(v.ApplySnapshot(new InterestSnapshot { GatewayId = Id, Version = 3, Groups = { "a" } }));
        Assert.False(v.ApplySnapshot(new InterestSnapshot { GatewayId = Id, Version = 4, Groups = { "b" }, Last = true }));
        Assert.True(v.ApplySnapshot(new InterestSnapshot { GatewayId = Id, Version = 3, Uids = { "u" }, Last = true }));
        Assert.False(v.ApplySnapshot(new InterestSnapshot { GatewayId = Id, Version = 3, Last = true })); // a second one on the same stream
        var ack = v.NextAck("me")!;
        Assert.True(v.ApplyGrant(new InterestGrant { AckId = ack.AckId, Version = 3, LeaseMs = 3000 }));
        Assert.True(v.Hosts(InterestKind.Group, ["a"]));
        Assert.True(v.Hosts(InterestKind.Uid, ["u"]));
    }

    [Fact]
    public void Invalidate_ForgetsEverything()
    {
        var v = Synced("g");
        v.Invalidate();
        Assert.Null(v.Hosts(InterestKind.Group, ["g"]));
        Assert.Null(v.NextAck("me"));
    }
}
