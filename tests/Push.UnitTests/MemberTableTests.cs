using System.Diagnostics.Metrics;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Time.Testing;
using Push.Registry.Membership;
using Push.V1;

namespace Push.UnitTests;

public sealed class MemberTableTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly MemberTable _table;

    public MemberTableTests() => _table = new MemberTable(_time, new NoMeters());

    private static Member Gateway(string address) => new() { Id = "gw1", Role = MemberRole.Gateway, Address = address, LeaseTtl = Duration.FromTimeSpan(TimeSpan.FromSeconds(5)) };

    [Fact]
    public void Register_LiveIdWithAnotherAddressOrRole_IsRefusedAndKeepsTheLiveMember()
    {
        Assert.Equal(MemberTable.RegisterOutcome.Registered, _table.Register(Gateway("http://10.0.0.1:8283"), null, out _, out var token, out _));

        Assert.Equal(MemberTable.RegisterOutcome.Conflict, _table.Register(Gateway("http://10.0.0.66:8283"), null, out _, out _, out var live));
        Assert.Equal("http://10.0.0.1:8283", live!.Address);
        var asWorker = Gateway("http://10.0.0.1:8283");
        asWorker.Role = MemberRole.Worker;
        Assert.Equal(MemberTable.RegisterOutcome.Conflict, _table.Register(asWorker, "wrong-token", out _, out _, out _));
        Assert.Equal("http://10.0.0.1:8283", Assert.Single(_table.Snapshot(MemberRole.Unspecified).Members).Address);
        Assert.Equal(32, token.Length);
    }

    [Fact]
    public void Register_AProposedToken_IsTheLease_SoARetryAfterALostAnswerIsAnsweredAgain()
    {
        var proposed = new string('a', 16) + new string('7', 16);
        Assert.Equal(MemberTable.RegisterOutcome.Registered, _table.Register(Gateway("http://10.0.0.1:8283"), proposed, out _, out var token, out _));
        Assert.Equal(proposed, token);

        // The answer got lost: the member asks again with the token it proposed, and is registered, not refused.
        Assert.Equal(MemberTable.RegisterOutcome.Registered, _table.Register(Gateway("http://10.0.0.1:8283"), proposed, out _, out var again, out _));
        Assert.Equal(proposed, again);
        Assert.NotNull(_table.KeepAlive("gw1", proposed, out var denied));
        Assert.False(denied);
        // Without it the live id is still refused.
        Assert.Equal(MemberTable.RegisterOutcome.Conflict, _table.Register(Gateway("http://10.0.0.1:8283"), null, out _, out _, out _));
    }

    [Theory]
    [InlineData("short")]
    [InlineData("not-hex-not-hex-not-hex-not-hex-not-hex")]
    public void Register_AWeakProposal_GetsARandomToken(string proposal)
    {
        _table.Register(Gateway("http://10.0.0.1:8283"), proposal, out _, out var token, out _);
        Assert.NotEqual(proposal, token);
        Assert.Equal(32, token.Length);
    }

    [Fact]
    public void Register_SameMemberAgain_NeedsTheToken_AndTheTokenMovesIt()
    {
        _table.Register(Gateway("http://10.0.0.1:8283"), null, out _, out var token, out _);

        // Knowing the id and address is not enough to learn the token (it would let anyone move the member next).
        var unchanged = _table.Register(Gateway("http://10.0.0.1:8283"), null, out _, out var leaked, out _);
        _table.Register(Gateway("http://10.0.0.1:8283"), token, out _, out var again, out _);
        var moved = _table.Register(Gateway("http://10.0.0.2:8283"), token, out _, out var afterMove, out _);

        Assert.Equal(MemberTable.RegisterOutcome.Conflict, unchanged);
        Assert.Empty(leaked);
        Assert.Equal(token, again);
        Assert.Equal(MemberTable.RegisterOutcome.Registered, moved);
        Assert.Equal(token, afterMove);
        Assert.Equal("http://10.0.0.2:8283", Assert.Single(_table.Snapshot(MemberRole.Gateway).Members).Address);
    }

    [Fact]
    public void Register_AfterTheLeaseLapsed_AnyAddressIsAcceptedWithANewToken()
    {
        _table.Register(Gateway("http://10.0.0.1:8283"), null, out _, out var token, out _);
        _time.Advance(TimeSpan.FromSeconds(6));

        var outcome = _table.Register(Gateway("http://10.0.0.9:8283"), null, out _, out var fresh, out _);

        Assert.Equal(MemberTable.RegisterOutcome.Registered, outcome);
        Assert.NotEqual(token, fresh);
    }

    [Fact]
    public void KeepAliveAndRemove_NeedTheLeaseToken()
    {
        _table.Register(Gateway("http://10.0.0.1:8283"), null, out _, out var token, out _);

        Assert.Null(_table.KeepAlive("gw1", "guess", out var denied));
        Assert.True(denied);
        Assert.False(_table.Remove("gw1", null, out denied));
        Assert.True(denied);
        Assert.NotNull(_table.KeepAlive("gw1", token, out denied));
        Assert.False(denied);
        Assert.Null(_table.KeepAlive("unknown", token, out denied));
        Assert.False(denied);
        Assert.True(_table.Remove("gw1", token, out _));
        Assert.Empty(_table.Snapshot(MemberRole.Unspecified).Members);
    }

    private sealed class NoMeters : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }
}
