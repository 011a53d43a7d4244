using System.Diagnostics.Metrics;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Push.Gateway;
using Push.Gateway.Connections;
using Push.Gateway.Control;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.UnitTests;

/// <summary>The cluster router over fake peer clients: no sockets, a fake clock, peer failures by reason.</summary>
public sealed class ClusterRouterTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly GatewayIdentity _identity = new();
    private readonly ClusterMembership _membership = new();
    private readonly FakePeers _peers = new();
    private readonly MeterListener _listener = new();
    private readonly List<(string Reason, long Count)> _failed = [];
    private readonly ClusterRouter _router;

    public ClusterRouterTests()
    {
        var self = new Member { Id = _identity.Id, Role = MemberRole.Gateway, Address = "http://127.0.0.1:1" };
        _membership.Update("r", [self, Peer("aaaaaaaaaaaaaaa1"), Peer("aaaaaaaaaaaaaaa2"), Peer("aaaaaaaaaaaaaaa3")]);
        var meters = new TestMeters();
        _listener.InstrumentPublished = (i, l) =>
        {
            if (i.Name == "push.gateway.peer_calls.failed")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            lock (_failed)
            {
                _failed.Add(((string)tags[0].Value!, value));
            }
        });
        _listener.Start();
        var failures = new PeerFailures(meters, NullLogger<PeerFailures>.Instance, _time);
        _router = new ClusterRouter(new ConnectionTable(_identity), _identity, _membership, _peers, failures, new Push.Gateway.Resume.MovedClients(), Options.Create(new ClusterOptions { PeerTimeout = TimeSpan.FromSeconds(2) }), _time);
    }

    public void Dispose() => _listener.Dispose();

    private static Member Peer(string id) => new() { Id = id, Role = MemberRole.Gateway, Address = "http://" + id };

    [Fact]
    public async Task Scatter_PeerFailures_AreReportedInReachAndCountedByReason()
    {
        _peers.Answers["aaaaaaaaaaaaaaa1"] = () => throw new RpcException(new Status(StatusCode.Unauthenticated, "invalid credentials"));
        _peers.Answers["aaaaaaaaaaaaaaa2"] = () => throw new RpcException(new Status(StatusCode.Unavailable, "connection refused"));
        _peers.Answers["aaaaaaaaaaaaaaa3"] = () => new GetAllClientCountResponse { Count = 7 };

        var (results, reach) = await _router.ScatterAsync(new FakeContext(), () => new GetAllClientCountResponse { Count = 1 }, (c, o) => c.GetAllClientCountAsync(new GetAllClientCountRequest(), o));

        Assert.Equal(8, results.Sum(r => r.Count));
        Assert.Equal(4, reach.GatewaysTotal);
        Assert.Equal(2, reach.GatewaysAnswered);
        Assert.Equal(["aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2"], reach.UnreachableGatewayIds.Order());
        lock (_failed)
        {
            Assert.Equal([("unauthenticated", 1L), ("unavailable", 1L)], _failed.OrderBy(f => f.Reason));
        }
    }

    [Fact]
    public async Task Scatter_EveryPeerCall_HasItsOwnHeadersWithScopeAndADeadline()
    {
        foreach (var id in new[] { "aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaa3" })
        {
            _peers.Answers[id] = () => new GetAllClientCountResponse { Count = 1 };
        }

        await _router.ScatterAsync(new FakeContext(), () => new GetAllClientCountResponse(), (c, o) => c.GetAllClientCountAsync(new GetAllClientCountRequest(), o));

        Assert.Equal(3, _peers.Calls.Count);
        Assert.Equal(3, _peers.Calls.Select(c => c.Headers).Distinct().Count());
        Assert.All(_peers.Calls, c =>
        {
            Assert.Equal("local", c.Headers!.GetValue(ClusterRouter.ScopeHeader));
            Assert.Single(c.Headers!, h => h.Key == ClusterRouter.ScopeHeader);
            Assert.Equal(_time.GetUtcNow().UtcDateTime + TimeSpan.FromSeconds(2), c.Deadline);
        });
    }

    [Fact]
    public async Task Scatter_ForwardedCall_RunsOnlyHere()
    {
        var (results, reach) = await _router.ScatterAsync(new FakeContext(forwarded: true), () => new GetAllClientCountResponse { Count = 3 }, (c, o) => c.GetAllClientCountAsync(new GetAllClientCountRequest(), o));

        Assert.Empty(_peers.Calls);
        Assert.Equal(3, Assert.Single(results).Count);
        Assert.Equal(1, reach.GatewaysAnswered);
    }

    [Fact]
    public async Task OnOwner_PeerRefusesTheCredential_IsUnavailableNamingWhyAndCounted()
    {
        _peers.Answers["aaaaaaaaaaaaaaa2"] = () => throw new RpcException(new Status(StatusCode.Unauthenticated, "invalid credentials"));
        var clientId = ClientId.Format("aaaaaaaaaaaaaaa2", 5);

        var ex = await Assert.ThrowsAsync<RpcException>(() => _router.OnOwnerAsync<IsOnlineResponse>(clientId, new FakeContext(), _ => new IsOnlineResponse(), (c, o) => c.IsOnlineAsync(new IsOnlineRequest { ClientId = clientId }, o)));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("Unauthenticated", ex.Status.Detail, StringComparison.Ordinal);
        lock (_failed)
        {
            Assert.Equal(("unauthenticated", 1L), Assert.Single(_failed));
        }
    }

    [Fact]
    public async Task OnOwner_GatewayNotAMember_AsksTheOthersForAMovedConnection_ThenIsNotFound()
    {
        // A resumable connection may have moved on before the gateway its id names went away: the others are asked.
        _peers.Answers["aaaaaaaaaaaaaaa1"] = () => throw new RpcException(new Status(StatusCode.NotFound, "not here"));
        _peers.Answers["aaaaaaaaaaaaaaa2"] = () => throw new RpcException(new Status(StatusCode.NotFound, "not here"));
        _peers.Answers["aaaaaaaaaaaaaaa3"] = () => throw new RpcException(new Status(StatusCode.NotFound, "not here"));
        var clientId = ClientId.Format("bbbbbbbbbbbbbbbb", 5);

        var ex = await Assert.ThrowsAsync<RpcException>(() => _router.OnOwnerAsync<IsOnlineResponse>(clientId, new FakeContext(), _ => new IsOnlineResponse(), (c, o) => c.IsOnlineAsync(new IsOnlineRequest { ClientId = clientId }, o)));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal(3, _peers.Calls.Count);
        Assert.All(_peers.Calls, call => Assert.Equal("local", call.Headers!.GetValue(ClusterRouter.ScopeHeader)));
    }

    [Fact]
    public async Task OnOwner_GatewayNotAMember_TheOneThatHasTheMovedConnectionAnswers()
    {
        _peers.Answers["aaaaaaaaaaaaaaa1"] = () => throw new RpcException(new Status(StatusCode.NotFound, "not here"));
        _peers.Answers["aaaaaaaaaaaaaaa2"] = () => new IsOnlineResponse { Online = true };
        var clientId = ClientId.Format("bbbbbbbbbbbbbbbb", 5);

        var answer = await _router.OnOwnerAsync<IsOnlineResponse>(clientId, new FakeContext(), _ => new IsOnlineResponse(), (c, o) => c.IsOnlineAsync(new IsOnlineRequest { ClientId = clientId }, o));

        Assert.True(answer.Online);
    }

    private sealed class FakePeers : IPeerClients
    {
        public Dictionary<string, Func<object>> Answers { get; } = new(StringComparer.Ordinal);
        public List<CallOptions> Calls { get; } = [];

        public GatewayService.GatewayServiceClient Get(Member gateway) => new(new Invoker(this, gateway.Id));

        public ResumeService.ResumeServiceClient GetResume(Member gateway) => new(new Invoker(this, gateway.Id));

        private sealed class Invoker(FakePeers owner, string id) : CallInvoker
        {
            public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
            {
                lock (owner.Calls)
                {
                    owner.Calls.Add(options);
                }
                Task<TResponse> response;
                try
                {
                    response = Task.FromResult((TResponse)owner.Answers[id]());
                }
                catch (RpcException ex)
                {
                    response = Task.FromException<TResponse>(ex);
                }
                return new AsyncUnaryCall<TResponse>(response, Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
            }

            public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException();

            public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException();

            public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) => throw new NotSupportedException();

            public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) => throw new NotSupportedException();
        }
    }

    [Fact]
    public async Task Scatter_WithInterest_AsksOnlyGatewaysThatMayHost_AndCountsTheOthersAsAnswered()
    {
        foreach (var id in new[] { "aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaa3" })
        {
            _peers.Answers[id] = () => new GetAllClientCountResponse { Count = 5 };
        }
        var interest = new FakeInterest("aaaaaaaaaaaaaaa1");
        var router = new ClusterRouter(new ConnectionTable(_identity), _identity, _membership, _peers, new PeerFailures(new TestMeters(), NullLogger<PeerFailures>.Instance, _time),
            new Push.Gateway.Resume.MovedClients(), Options.Create(new ClusterOptions { PeerTimeout = TimeSpan.FromSeconds(2) }), _time, interest);

        var (results, reach) = await router.ScatterAsync(new FakeContext(), () => new GetAllClientCountResponse { Count = 1 }, (c, o) => c.GetAllClientCountAsync(new GetAllClientCountRequest(), o),
            interest: (Push.Gateway.Routing.InterestKind.Group, ["g"]));

        Assert.Equal(6, results.Sum(r => r.Count));
        Assert.Single(_peers.Calls);
        Assert.Equal((4, 4, 2), (reach.GatewaysTotal, reach.GatewaysAnswered, reach.GatewaysAsked));
        Assert.Empty(reach.UnreachableGatewayIds);
        Assert.Equal(3, interest.Asked.Count); // every peer was considered, for the group "g"
        Assert.All(interest.Asked, a => Assert.Equal("group:g", a.What));

        // Without interest (a query about everyone): every gateway, asked = total.
        var (_, all) = await router.ScatterAsync(new FakeContext(), () => new GetAllClientCountResponse { Count = 1 }, (c, o) => c.GetAllClientCountAsync(new GetAllClientCountRequest(), o));
        Assert.Equal((4, 4, 4), (all.GatewaysTotal, all.GatewaysAnswered, all.GatewaysAsked));
    }

    private sealed class FakeInterest(string hosting) : Push.Gateway.Routing.IPushRouting, Push.Gateway.Routing.IInterestView
    {
        public List<(string Id, string What)> Asked { get; } = [];

        public string Mode => "test";

        public bool MayHost(string gatewayId, Push.Gateway.Routing.InterestKind? kind, IReadOnlyList<string> names)
        {
            Asked.Add((gatewayId, $"{kind.ToString()!.ToLowerInvariant()}:{string.Join(',', names)}"));
            return gatewayId == hosting;
        }

        public void LocalInterest(Push.Gateway.Routing.InterestKind kind, string name, bool on)
        {
        }

        public ValueTask SyncAsync(CancellationToken ct) => ValueTask.CompletedTask;

        public Task<(long Delivered, ClusterReach Reach)> SendAsync(Push.Gateway.Routing.RoutedPush push, ServerCallContext context, Func<long> local) => throw new NotSupportedException();
    }

    private sealed class FakeContext(bool forwarded = false) : ServerCallContext
    {
        private readonly Metadata _headers = forwarded ? new Metadata { { ClusterRouter.ScopeHeader, "local" } } : [];

        protected override string MethodCore => "/push.v1.GatewayService/GetAllClientCount";
        protected override string HostCore => "localhost";
        protected override string PeerCore => "ipv4:127.0.0.1:1";
        protected override DateTime DeadlineCore => DateTime.MaxValue;
        protected override Metadata RequestHeadersCore => _headers;
        protected override CancellationToken CancellationTokenCore => CancellationToken.None;
        protected override Metadata ResponseTrailersCore { get; } = [];
        protected override Status StatusCore { get; set; }
        protected override WriteOptions? WriteOptionsCore { get; set; }
        protected override AuthContext AuthContextCore => new(null, []);

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }

    private sealed class TestMeters : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }
}
