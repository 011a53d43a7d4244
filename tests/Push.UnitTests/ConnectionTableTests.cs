using System.IO.Pipelines;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Push.Gateway;
using Push.Gateway.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.WebSockets;

namespace Push.UnitTests;

/// <summary>Connections over in-memory pipes (no sockets): enough for the table's bookkeeping and fan-out counts.</summary>
internal sealed class TableHarness : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public TableHarness(Push.Gateway.Routing.IPushRouting? routing = null) => Table = new ConnectionTable(Identity, routing);

    public GatewayIdentity Identity { get; } = new();
    public ConnectionTable Table { get; }
    public GatewayOptions Options { get; } = new();

    public ClientConnection Connect()
    {
        var seq = Table.NextSequence();
        var toClient = new Pipe();
        var fromClient = new Pipe();
        var transport = new DefaultConnectionContext($"c{seq}", new DuplexPipe(fromClient.Reader, toClient.Writer), new DuplexPipe(toClient.Reader, fromClient.Writer));
        var c = new ClientConnection(seq, ClientId.Format(Identity.Id, seq), transport, new GatewayMetrics(_services.GetRequiredService<IMeterFactory>()), Options);
        Table.Add(c);
        return c;
    }

    public void Dispose() => _services.Dispose();

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}

public sealed class ConnectionTableTests : IDisposable
{
    private readonly TableHarness _h = new();
    private ConnectionTable T => _h.Table;
    private static readonly OutboundFrame Frame = OutboundFrame.Text("x");

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Find_ByClientId_OnlyForThisGatewaysConnectedClients()
    {
        var c = _h.Connect();

        Assert.Same(c, T.Find(c.ClientId));
        Assert.Same(c, T.Find(c.Sequence));
        Assert.Null(T.Find(ClientId.Format(_h.Identity.Id == "0123456789abcdef" ? "fedcba9876543210" : "0123456789abcdef", c.Sequence)));
        Assert.Null(T.Find(ClientId.Format(_h.Identity.Id, c.Sequence + 1)));
        Assert.Null(T.Find("not an id"));
    }

    [Fact]
    public void Remove_ReleasesTheUidAndEveryGroup()
    {
        var a = _h.Connect();
        var b = _h.Connect();
        T.BindUid(a, "u");
        T.JoinGroup(a, "g1", 10);
        T.JoinGroup(a, "g2", 10);
        T.JoinGroup(b, "g1", 10);

        T.Remove(a);
        T.Remove(a); // twice is harmless

        Assert.Equal(1, T.Count);
        Assert.False(T.HasUid("u"));
        Assert.Equal(0, T.UidCount);
        Assert.Equal(["g1"], T.GroupNames());
        Assert.Equal([b], T.GroupMembers("g1"));
        Assert.Null(T.Find(a.ClientId));
    }

    [Fact]
    public void BindUid_Rebinding_MovesTheConnection_AndAClosedOneIsNotBound()
    {
        var a = _h.Connect();
        T.BindUid(a, "u1");
        T.BindUid(a, "u2");

        Assert.Equal("u2", a.Uid);
        Assert.False(T.HasUid("u1"));
        Assert.Equal([a], T.UidMembers("u2"));

        T.UnbindUid(a);
        Assert.Null(a.Uid);
        Assert.Empty(T.UidNames());

        T.Remove(a);
        T.BindUid(a, "late");
        Assert.False(T.HasUid("late"));
    }

    [Fact]
    public void JoinGroup_IsIdempotent_AndRefusesBeyondTheLimit()
    {
        var a = _h.Connect();

        Assert.True(T.JoinGroup(a, "g1", 2));
        Assert.True(T.JoinGroup(a, "g1", 2));
        Assert.True(T.JoinGroup(a, "g2", 2));
        Assert.False(T.JoinGroup(a, "g3", 2));
        Assert.True(T.JoinGroup(a, "g2", 2)); // already in: not a new group

        Assert.Equal(["g1", "g2"], T.GroupsOf(a).Order());
        Assert.Equal(0, T.GroupSize("g3"));
        T.LeaveGroup(a, "g1");
        Assert.True(T.JoinGroup(a, "g3", 2));
    }

    [Fact]
    public void Ungroup_RemovesEveryMembership_AndCountsThem()
    {
        var a = _h.Connect();
        var b = _h.Connect();
        T.JoinGroup(a, "g", 10);
        T.JoinGroup(b, "g", 10);
        T.JoinGroup(b, "keep", 10);

        Assert.Equal(2, T.Ungroup("g"));
        Assert.Equal(0, T.Ungroup("g"));

        Assert.Equal(["keep"], T.GroupNames());
        Assert.Empty(T.GroupsOf(a));
        Assert.Equal(["keep"], T.GroupsOf(b));
        Assert.Null(a.Groups);
    }

    [Fact]
    public void SendToGroups_CountsAConnectionInSeveralGroupsOnce_MinusExclusions()
    {
        var a = _h.Connect();
        var b = _h.Connect();
        var c = _h.Connect();
        T.JoinGroup(a, "g1", 10);
        T.JoinGroup(b, "g1", 10);
        T.JoinGroup(b, "g2", 10);
        T.JoinGroup(c, "g2", 10);

        Assert.Equal(3, T.SendToGroups(["g1", "g2"], null, Frame));
        Assert.Equal(2, T.SendToGroups(["g1", "g2", "none"], [b.Sequence], Frame));
        Assert.Equal(2, T.SendToGroups(["g2"], null, Frame));
        Assert.Equal(0, T.SendToGroups(["none"], null, Frame));
    }

    [Fact]
    public void SendToUids_ANameTwiceCountsOnce()
    {
        var a = _h.Connect();
        var b = _h.Connect();
        var c = _h.Connect();
        T.BindUid(a, "u1");
        T.BindUid(b, "u1");
        T.BindUid(c, "u2");

        Assert.Equal(2, T.SendToUids(["u1"], Frame));
        Assert.Equal(3, T.SendToUids(["u1", "u2", "u1", "none"], Frame));
        Assert.Equal(0, T.SendToUids(["none"], Frame));
    }

    [Fact]
    public void SendToAll_SkipsExclusionsAndClosingConnections()
    {
        var a = _h.Connect();
        var b = _h.Connect();
        var c = _h.Connect();
        c.Close(CloseCodes.Normal, "bye");

        Assert.Equal(2, T.SendToAll(null, Frame));
        Assert.Equal(1, T.SendToAll([a.Sequence], Frame));
        Assert.False(c.Send(Frame));
        Assert.True(b.Send(Frame));
    }

    [Fact]
    public void GroupQueries_UidsAndMembersPerGroup()
    {
        var a = _h.Connect();
        var b = _h.Connect();
        var c = _h.Connect();
        T.JoinGroup(a, "g", 10);
        T.JoinGroup(b, "g", 10);
        T.JoinGroup(c, "g", 10);
        T.JoinGroup(c, "nouid", 10);
        T.BindUid(a, "u");
        T.BindUid(b, "u");

        Assert.Equal(["u"], T.UidsOfGroup("g"));
        Assert.Empty(T.UidsOfGroup("nouid"));
        var uids = T.AllGroupUids();
        Assert.Equal(["g"], uids.Keys); // groups without uids are left out
        var members = T.AllGroupMembers();
        Assert.Equal(3, members["g"].Length);
        Assert.Equal([c.ClientId], members["nouid"]);
    }
}

public sealed class SessionStoreTests : IDisposable
{
    private readonly TableHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Write_ReplaceOrMerge_ThenRead()
    {
        var c = _h.Connect();
        Assert.Empty(SessionStore.Read(c));

        Assert.True(SessionStore.Write(c, new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, merge: false, 100, workerHasIt: false));
        Assert.True(SessionStore.Write(c, new Dictionary<string, string> { ["b"] = "3", ["c"] = "4" }, merge: true, 100, workerHasIt: false));
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "3", ["c"] = "4" }, SessionStore.Read(c));

        Assert.True(SessionStore.Write(c, new Dictionary<string, string> { ["x"] = "y" }, merge: false, 100, workerHasIt: false));
        Assert.Equal(new Dictionary<string, string> { ["x"] = "y" }, SessionStore.Read(c));
        Assert.Equal("y", SessionStore.ToProto(c).Values["x"]);

        Assert.True(SessionStore.Write(c, new Dictionary<string, string>(), merge: false, 100, workerHasIt: false));
        Assert.Null(c.Session); // an empty session holds no dictionary
        Assert.Empty(SessionStore.ToProto(c).Values);
    }

    [Fact]
    public void Write_OverTheSizeLimit_IsRefusedAndKeepsTheOldSession()
    {
        var c = _h.Connect();
        SessionStore.Write(c, new Dictionary<string, string> { ["k"] = "12345" }, merge: false, 10, workerHasIt: false); // 6 chars
        var version = c.SessionVersion;

        Assert.False(SessionStore.Write(c, new Dictionary<string, string> { ["j"] = "1234" }, merge: true, 10, workerHasIt: false)); // 6 + 5 > 10
        Assert.True(SessionStore.Write(c, new Dictionary<string, string> { ["j"] = "123" }, merge: true, 10, workerHasIt: false)); // 6 + 4 = 10
        Assert.False(SessionStore.Write(c, new Dictionary<string, string> { ["big"] = "12345678" }, merge: false, 10, workerHasIt: false));

        Assert.Equal(new Dictionary<string, string> { ["k"] = "12345", ["j"] = "123" }, SessionStore.Read(c));
        Assert.Equal(version + 1, c.SessionVersion);
    }

    [Fact]
    public void Write_ByTheConnectionsWorker_IsNotSentBackToIt()
    {
        var c = _h.Connect();

        SessionStore.Write(c, new Dictionary<string, string> { ["a"] = "1" }, merge: false, 100, workerHasIt: true);
        Assert.Equal(c.SessionVersion, c.SessionSentVersion);

        SessionStore.Write(c, new Dictionary<string, string> { ["a"] = "2" }, merge: true, 100, workerHasIt: false);
        Assert.NotEqual(c.SessionVersion, c.SessionSentVersion); // the next event carries it
    }

    [Fact]
    public void Read_ReturnsACopy()
    {
        var c = _h.Connect();
        SessionStore.Write(c, new Dictionary<string, string> { ["a"] = "1" }, merge: false, 100, workerHasIt: false);

        SessionStore.Read(c)["a"] = "changed";

        Assert.Equal("1", SessionStore.Read(c)["a"]);
    }
}
