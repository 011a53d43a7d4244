using System.Buffers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Push.Gateway.Routing;
using Push.Gateway.Routing.Nats;
using Push.V1;

namespace Push.UnitTests;

/// <summary>NATS routing without sockets: subject encoding, the envelope, de-duplication and the subscription ref-counting.</summary>
public sealed class NatsSubjectsTests
{
    [Theory]
    [InlineData("room1")]
    [InlineData("a.b.c")]
    [InlineData("*")]
    [InlineData(">")]
    [InlineData("with space\tand\nnewline")]
    [InlineData("ünïcødé 聊天室 🎉")]
    [InlineData("push.v1.all")]
    public void AnyName_IsOneSafeToken_ThatDecodesBack(string name)
    {
        var subject = NatsSubjects.Group("push.v1", name);
        Assert.StartsWith("push.v1.g.", subject, StringComparison.Ordinal);
        var token = subject["push.v1.g.".Length..];
        Assert.All(token, ch => Assert.True(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_', $"'{ch}' in {subject}"));
        Assert.Equal(name, NatsSubjects.DecodeToken(token));
    }

    [Fact]
    public void GroupsUidsAndPrefixes_NeverShareASubject()
    {
        Assert.NotEqual(NatsSubjects.Group("push.v1", "x"), NatsSubjects.Uid("push.v1", "x"));
        Assert.NotEqual(NatsSubjects.Group("push.v1", "x"), NatsSubjects.Group("push.v1.other", "x"));
        Assert.Equal("push.v1.u." + NatsSubjects.PlainToken("alice"), NatsSubjects.Of("push.v1", InterestKind.Uid, "alice"));
        Assert.Equal("push.v1.all", NatsSubjects.All("push.v1"));
        Assert.NotEqual(NatsSubjects.All("p"), NatsSubjects.Group("p", "all"));
    }

    [Fact]
    public void LongNames_AreHashed_AndStayShort()
    {
        var a = new string('a', 5000);
        var b = new string('a', 4999) + "b";
        var sa = NatsSubjects.Group("push.v1", a);
        Assert.StartsWith("push.v1.gh.", sa, StringComparison.Ordinal);
        Assert.True(sa.Length < 64, sa);
        Assert.NotEqual(sa, NatsSubjects.Group("push.v1", b));
        Assert.Equal(sa, NatsSubjects.Group("push.v1", a));
        Assert.StartsWith("push.v1.uh.", NatsSubjects.Uid("push.v1", a), StringComparison.Ordinal);
        // The longest plain name still fits the limit.
        var longest = new string('x', NatsSubjects.MaxPlainToken / 4 * 3);
        Assert.StartsWith("push.v1.g.", NatsSubjects.Group("push.v1", longest), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("push.v1", true)]
    [InlineData("prod-eu_1.push", true)]
    [InlineData("", false)]
    [InlineData("push.", false)]
    [InlineData("push..v1", false)]
    [InlineData("push.*", false)]
    [InlineData("push.>", false)]
    [InlineData("push v1", false)]
    public void Prefix_IsValidated(string prefix, bool valid) => Assert.Equal(valid, NatsSubjects.IsValidPrefix(prefix));

    [Fact]
    public void Options_RequireAUrlInNatsMode_AndNameTheSetting()
    {
        Assert.Empty(new NatsRoutingOptions().Errors());
        Assert.Contains(new NatsRoutingOptions { Routing = "nats" }.Errors(), e => e.Contains("Cluster:NatsUrl is required", StringComparison.Ordinal));
        Assert.Empty(new NatsRoutingOptions { Routing = "nats", NatsUrl = "nats://127.0.0.1:4222, nats://127.0.0.2:4222" }.Errors());
        Assert.Contains(new NatsRoutingOptions { Routing = "nats", NatsUrl = "http://x" }.Errors(), e => e.Contains("Cluster:NatsUrl", StringComparison.Ordinal));
        Assert.Contains(new NatsRoutingOptions { Routing = "nats", NatsUrl = "nats://h:1", NatsSubjectPrefix = "a.*" }.Errors(), e => e.Contains("NatsSubjectPrefix", StringComparison.Ordinal));
    }

    [Fact]
    public void Envelope_RoundTrips_AndRejectsOtherBytes()
    {
        var request = new SendToGroupRequest { Groups = { "g1", "g2" }, Text = "hi", ExcludeClientIds = { "x" } };
        var bytes = NatsEnvelope.Encode(RoutedKind.Group, 0xfedcba9876543211UL, multi: true, "gw-1", request);
        Assert.True(NatsEnvelope.TryDecode(new ReadOnlySequence<byte>(bytes), out var e));
        Assert.Equal((RoutedKind.Group, 0xfedcba9876543211UL, true, "gw-1"), (e.Kind, e.PushId, e.Multi, e.Origin));
        Assert.Equal(request, SendToGroupRequest.Parser.ParseFrom(e.Request.Span));
        Assert.False(NatsEnvelope.TryDecode(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("hello")), out _));
        bytes[0] = 2;
        Assert.False(NatsEnvelope.TryDecode(new ReadOnlySequence<byte>(bytes), out _));
    }

    [Fact]
    public void RecentPushIds_TakeEachIdOnce_WhileItIsRecent()
    {
        var ids = new RecentPushIds(capacity: 4);
        Assert.True(ids.TryAdd(1));
        Assert.False(ids.TryAdd(1));
        foreach (var id in new ulong[] { 3, 5, 7 })
        {
            Assert.True(ids.TryAdd(id));
        }
        Assert.False(ids.TryAdd(1));
        Assert.True(ids.TryAdd(9)); // 1 leaves the ring
        Assert.True(ids.TryAdd(1));
    }
}

public sealed class NatsInterestTests
{
    private sealed class FakeSubscriber : ISubjectSubscriber
    {
        public List<string> Log { get; } = [];
        public TaskCompletionSource? HoldPing { get; set; }
        public int FailNext { get; set; }

        public ValueTask<IAsyncDisposable> SubscribeAsync(string subject, CancellationToken ct)
        {
            if (FailNext > 0)
            {
                FailNext--;
                throw new TimeoutException("disconnected");
            }
            lock (Log)
            {
                Log.Add("sub " + subject);
            }
            return ValueTask.FromResult<IAsyncDisposable>(new Sub(this, subject));
        }

        public async ValueTask PingAsync(CancellationToken ct)
        {
            if (HoldPing is { } hold)
            {
                await hold.Task.WaitAsync(ct);
            }
            lock (Log)
            {
                Log.Add("ping");
            }
        }

        private sealed class Sub(FakeSubscriber owner, string subject) : IAsyncDisposable
        {
            public ValueTask DisposeAsync()
            {
                lock (owner.Log)
                {
                    owner.Log.Add("unsub " + subject);
                }
                return ValueTask.CompletedTask;
            }
        }
    }

    private static (NatsInterest Interest, FakeSubscriber Nats, CancellationTokenSource Stop, Task Loop) Start()
    {
        var nats = new FakeSubscriber();
        var interest = new NatsInterest(nats, NullLogger.Instance, TimeProvider.System);
        var stop = new CancellationTokenSource();
        return (interest, nats, stop, Task.Run(() => interest.RunAsync(stop.Token)));
    }

    [Fact]
    public async Task ASubject_IsSubscribedOnce_WhileItsCountIsAboveZero()
    {
        var ct = new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;
        var (interest, nats, stop, loop) = Start();
        interest.Change("s.g.a", on: true);
        interest.Change("s.g.a", on: true);
        interest.Change("s.g.b", on: true);
        interest.Change("s.g.a", on: false);
        await interest.SyncAsync(ct);
        Assert.Equal(["sub s.g.a", "sub s.g.b", "ping"], nats.Log);
        Assert.Equal(1, interest.RefCount("s.g.a"));
        Assert.Equal(2, interest.Subscribed);

        interest.Change("s.g.a", on: false);
        interest.Change("s.g.a", on: false); // unbalanced: ignored, never negative
        interest.Change("s.g.a", on: true);
        await interest.SyncAsync(ct);
        Assert.Equal(["sub s.g.a", "sub s.g.b", "ping", "unsub s.g.a", "sub s.g.a", "ping"], nats.Log);
        Assert.Equal(1, interest.RefCount("s.g.a"));
        Assert.Equal(2, interest.Subscribed);
        await stop.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task Sync_CompletesOnlyAfterThePingThatFollowsEarlierChanges()
    {
        var ct = new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;
        var (interest, nats, stop, loop) = Start();
        nats.HoldPing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        interest.Change("s.u.x", on: true);
        var sync = interest.SyncAsync(ct);
        // The subscription is sent before the PING; the join's answer waits for the PONG.
        while (true)
        {
            lock (nats.Log)
            {
                if (nats.Log.Contains("sub s.u.x"))
                {
                    break;
                }
            }
            ct.ThrowIfCancellationRequested();
            await Task.Yield();
        }
        Assert.False(sync.IsCompleted);
        nats.HoldPing.SetResult();
        await sync;
        Assert.Equal(["sub s.u.x", "ping"], nats.Log);
        await stop.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task AFailedSubscribe_IsRetried_InOrder_BeforeSyncCompletes()
    {
        var ct = new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;
        var (interest, nats, stop, loop) = Start();
        nats.FailNext = 2; // e.g. while reconnecting
        interest.Change("s.g.a", on: true);
        interest.Change("s.g.b", on: true);
        await interest.SyncAsync(ct);
        Assert.Equal(["sub s.g.a", "sub s.g.b", "ping"], nats.Log);
        await stop.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task Stopping_CancelsWaitingSyncs()
    {
        var ct = new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;
        var (interest, nats, stop, loop) = Start();
        nats.HoldPing = new TaskCompletionSource();
        interest.Change("s.g.a", on: true);
        var sync = interest.SyncAsync(ct);
        await stop.CancelAsync();
        await loop;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sync);
    }
}

/// <summary>ConnectionTable tells the routing of first-member and last-member transitions only.</summary>
public sealed class ConnectionTableInterestTests
{
    private sealed class Recorder : IPushRouting
    {
        public List<string> Calls { get; } = [];
        public string Mode => "test";
        public void LocalInterest(InterestKind kind, string name, bool on) => Calls.Add($"{kind} {name} {(on ? "on" : "off")}");
        public ValueTask SyncAsync(CancellationToken ct) => ValueTask.CompletedTask;
        public Task<(long Delivered, ClusterReach Reach)> SendAsync(RoutedPush push, Grpc.Core.ServerCallContext context, Func<long> local) => throw new NotSupportedException();
    }

    [Fact]
    public void JoinsLeavesBindsAndCloses_ReportOnlyTheFirstAndLastMember()
    {
        var r = new Recorder();
        using var h = new TableHarness(r);
        var (a, b) = (h.Connect(), h.Connect());
        h.Table.JoinGroup(a, "g", 10);
        h.Table.JoinGroup(b, "g", 10);
        h.Table.JoinGroup(a, "g", 10); // already in: nothing
        h.Table.BindUid(a, "u");
        h.Table.BindUid(b, "u");
        h.Table.LeaveGroup(a, "g");
        Assert.Equal(["Group g on", "Uid u on"], r.Calls);
        h.Table.Remove(b); // its group and uid go with it: g is empty now, u still has a
        Assert.Equal(["Group g on", "Uid u on", "Group g off"], r.Calls);
        h.Table.BindUid(a, "v"); // rebinding moves a from u (last member) to v
        h.Table.JoinGroup(a, "h", 10);
        Assert.Equal(1, h.Table.Ungroup("h"));
        Assert.Equal(["Group g on", "Uid u on", "Group g off", "Uid u off", "Uid v on", "Group h on", "Group h off"], r.Calls);
        h.Table.UnbindUid(a);
        Assert.Equal("Uid v off", r.Calls[^1]);
    }
}

/// <summary>Readiness in nats mode follows the NATS connection (no server here: never connected).</summary>
public sealed class NatsHealthCheckTests
{
    [Fact]
    public async Task NotReady_UntilConnected_AndSilentInMeshMode()
    {
        var nats = Microsoft.Extensions.Options.Options.Create(new NatsRoutingOptions { Routing = "nats", NatsUrl = "nats://127.0.0.1:1" });
        await using var sp = new Microsoft.Extensions.DependencyInjection.ServiceCollection()
            .AddMetrics()
            .AddLogging()
            .AddSingleton(new Push.Gateway.GatewayIdentity())
            .AddSingleton(nats)
            .AddSingleton(TimeProvider.System)
            .AddSingleton<NatsMetrics>()
            .AddSingleton<NatsRouting>()
            .BuildServiceProvider();
        var check = new NatsHealthCheck(nats, sp);
        var r = await check.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, r.Status);
        Assert.Contains("nats://127.0.0.1:1", r.Description, StringComparison.Ordinal);

        var mesh = new NatsHealthCheck(Microsoft.Extensions.Options.Options.Create(new NatsRoutingOptions()), sp);
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await mesh.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext())).Status);
    }
}
