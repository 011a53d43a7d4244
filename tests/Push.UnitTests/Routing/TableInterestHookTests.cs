using Push.Gateway.Routing;

namespace Push.UnitTests.Routing;

/// <summary>ConnectionTable tells the routing every first member of a group or uid and every last one leaving, nothing else.</summary>
public sealed class TableInterestHookTests : IDisposable
{
    private readonly RecordingRouting _routing = new();
    private readonly TableHarness _h;

    public TableInterestHookTests() => _h = new TableHarness(_routing);

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Groups_FirstJoinAndLastLeave_AreTransitions()
    {
        var a = _h.Connect();
        var b = _h.Connect();
        _h.Table.JoinGroup(a, "g", 10);
        _h.Table.JoinGroup(b, "g", 10);
        _h.Table.JoinGroup(a, "g", 10);
        _h.Table.LeaveGroup(a, "g");
        Assert.Equal(["+group:g"], _routing.Calls);
        _h.Table.LeaveGroup(b, "g");
        Assert.Equal(["+group:g", "-group:g"], _routing.Calls);
    }

    [Fact]
    public void Uids_Rebind_Remove_Ungroup_AreTransitions()
    {
        var a = _h.Connect();
        var b = _h.Connect();
        _h.Table.BindUid(a, "u1");
        _h.Table.BindUid(b, "u1");
        _h.Table.BindUid(a, "u2"); // u1 keeps b
        _h.Table.JoinGroup(a, "g", 10);
        _h.Table.JoinGroup(b, "h", 10);
        _h.Table.Remove(a); // u2 and g lose their only member
        _h.Table.UnbindUid(b);
        _h.Table.Ungroup("h");
        Assert.Equal(["+uid:u1", "+uid:u2", "+group:g", "+group:h", "-uid:u2", "-group:g", "-uid:u1", "-group:h"], _routing.Calls);
    }

    [Fact]
    public void JoinOfAClosedConnection_IsNoTransition()
    {
        var a = _h.Connect();
        _h.Table.Remove(a);
        _h.Table.JoinGroup(a, "g", 10);
        _h.Table.BindUid(a, "u");
        Assert.Empty(_routing.Calls);
    }

    private sealed class RecordingRouting : IPushRouting
    {
        public List<string> Calls { get; } = [];

        public string Mode => "test";

        public void LocalInterest(InterestKind kind, string name, bool on) => Calls.Add($"{(on ? '+' : '-')}{kind.ToString().ToLowerInvariant()}:{name}");

        public ValueTask SyncAsync(CancellationToken ct) => ValueTask.CompletedTask;

        public Task<(long Delivered, Push.V1.ClusterReach Reach)> SendAsync(RoutedPush push, Grpc.Core.ServerCallContext context, Func<long> local)
            => Task.FromResult((local(), new Push.V1.ClusterReach { GatewaysTotal = 1, GatewaysAnswered = 1, GatewaysAsked = 1 }));
    }
}
