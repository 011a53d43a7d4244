using Grpc.Core;
using Microsoft.Extensions.Options;
using Push.Gateway.Connections;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Control;

/// <summary>
/// Routes control calls over the cluster: a client id goes to the gateway it names; uid, group, all and query calls
/// run here and on the other live gateways in parallel (<see cref="PeerScatter"/>; group and uid queries only where
/// the interest routing says members may be) (marked "push-scope: local" so they do not fan out again),
/// each peer under a deadline; the caller merges the answers and learns which gateways answered.
/// </summary>
internal sealed class ClusterRouter(
    ConnectionTable table,
    GatewayIdentity identity,
    ClusterMembership membership,
    IPeerClients peers,
    PeerFailures failures,
    Resume.MovedClients moved,
    IOptions<ClusterOptions> cluster,
    TimeProvider time,
    Routing.IPushRouting? routing = null)
{
    private readonly PeerScatter _scatter = new(identity, membership, peers, failures, cluster, time);
    private readonly Routing.IInterestView? _interest = routing as Routing.IInterestView;

    public const string ScopeHeader = "push-scope";

    /// <summary>Header of a push forwarded between gateways: the push's id, the same on every gateway it reaches.</summary>
    public const string PushIdHeader = "push-id";

    public string GatewayId => identity.Id;

    public static bool IsForwarded(ServerCallContext context) => context.RequestHeaders.GetValue(ScopeHeader) == "local";

    /// <summary>
    /// The id of the push a call carries: the one the forwarding gateway gave it, or a new one (kept on the call, so
    /// the forwarded copies carry it). A resumable connection that moves between gateways takes each push once by it.
    /// </summary>
    public static ulong PushId(ServerCallContext context)
    {
        if (context.UserState.TryGetValue(PushIdHeader, out var known))
        {
            return (ulong)known;
        }
        ulong id = 0;
        if (IsForwarded(context) && context.RequestHeaders.GetValue(PushIdHeader) is { } header)
        {
            _ = ulong.TryParse(header, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out id);
        }
        if (id == 0)
        {
            id = (ulong)Random.Shared.NextInt64() | 1;
        }
        context.UserState[PushIdHeader] = id;
        return id;
    }

    /// <summary>Validates a client id and returns its gateway id.</summary>
    public static (string GatewayId, long Sequence) ParseClientId(string? clientId, string field = "client_id")
    {
        if (string.IsNullOrEmpty(clientId))
        {
            throw Errors.InvalidField(field, "must not be empty");
        }
        if (!ClientId.TryParse(clientId, out var gw, out var seq))
        {
            throw Errors.InvalidField(field, ClientId.Describe(clientId));
        }
        return (gw, seq);
    }

    /// <summary>
    /// Runs an operation on the gateway that owns <paramref name="clientId"/>; a forwarded call may take
    /// <paramref name="slower"/> longer than Cluster:PeerTimeout (a join waits for its interest sync there).
    /// </summary>
    public async Task<TResponse> OnOwnerAsync<TResponse>(
        string clientId,
        ServerCallContext context,
        Func<ClientConnection, TResponse> local,
        Func<GatewayService.GatewayServiceClient, CallOptions, AsyncUnaryCall<TResponse>> remote,
        Func<TResponse>? whenOffline = null,
        TimeSpan slower = default)
    {
        var (gw, _) = ParseClientId(clientId);
        // Here: the id names this gateway, or the connection resumed here from another one (it keeps its id).
        var c = table.Find(clientId);
        if (c is not null)
        {
            using (table.Gate.Enter())
            {
                if (!c.IsResumable || c.RoughState is not (ResumeState.Moving or ResumeState.Moved))
                {
                    return local(c);
                }
            }
        }
        // It moved to another gateway: that gateway has it now (every client-id operation follows it there).
        if (moved.TryGet(clientId, out var to) && !string.Equals(to.GatewayId, identity.Id, StringComparison.Ordinal))
        {
            return await CallPeerAsync(new Member { Id = to.GatewayId, Address = to.Address, Role = MemberRole.Gateway }, context, remote, slower).ConfigureAwait(false);
        }
        if (string.Equals(gw, identity.Id, StringComparison.Ordinal) || IsForwarded(context))
        {
            return whenOffline is not null ? whenOffline() : throw Errors.ClientNotFound(clientId);
        }
        var member = membership.FindGateway(gw);
        if (member is null)
        {
            // The gateway the id names is gone; a resumable connection may have moved on before it went.
            var found = await FindElsewhereAsync(context, remote).ConfigureAwait(false);
            if (found.Found)
            {
                return found.Response!;
            }
            return whenOffline is not null ? whenOffline() : throw Errors.GatewayGone(clientId, gw);
        }
        return await CallPeerAsync(member, context, remote, slower).ConfigureAwait(false);
    }

    private async Task<TResponse> CallPeerAsync<TResponse>(Member member, ServerCallContext context, Func<GatewayService.GatewayServiceClient, CallOptions, AsyncUnaryCall<TResponse>> remote, TimeSpan slower)
    {
        try
        {
            return await remote(peers.Get(member), _scatter.PeerOptions(context, slower)).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex) when (!context.CancellationToken.IsCancellationRequested && IsPeerFailure(ex) && ex.StatusCode != StatusCode.ResourceExhausted)
        {
            failures.Record(member.Id, context.Method, ex);
            // A deadline carries no detail: say what happened rather than "did not answer: ".
            var why = ex.StatusCode == StatusCode.DeadlineExceeded
                ? $"no answer within {(cluster.Value.PeerTimeout + slower).TotalSeconds:0.###} s (Cluster:PeerTimeout{(slower > TimeSpan.Zero ? " + the interest sync of a join" : string.Empty)})"
                : string.IsNullOrEmpty(ex.Status.Detail) ? ex.StatusCode.ToString() : $"{ex.StatusCode}, {ex.Status.Detail}";
            throw Errors.GatewayUnreachable(member.Id, why);
        }
    }

    // Asks every other gateway (forwarded: each answers for its own connections) and takes the answer of the one that has it.
    private async Task<(bool Found, TResponse? Response)> FindElsewhereAsync<TResponse>(ServerCallContext context, Func<GatewayService.GatewayServiceClient, CallOptions, AsyncUnaryCall<TResponse>> remote)
    {
        var others = OtherGateways(null);
        var calls = new List<Task<TResponse>>(others.Length);
        foreach (var g in others)
        {
            try
            {
                calls.Add(remote(peers.Get(g), PeerOptions(context)).ResponseAsync);
            }
            catch (Exception ex)
            {
                calls.Add(Task.FromException<TResponse>(ex));
            }
        }
        for (var i = 0; i < calls.Count; i++)
        {
            try
            {
                return (true, await calls[i].ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is RpcException or OperationCanceledException or HttpRequestException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                // Not there, or not answering (counted by reason): the next one.
                if (ex is not RpcException { StatusCode: StatusCode.NotFound })
                {
                    failures.Record(others[i].Id, context.Method, ex);
                }
            }
        }
        return (false, default);
    }

    /// <summary>
    /// Runs an operation here and on every other live gateway (or only on <paramref name="only"/>), in parallel. With
    /// <paramref name="interest"/> (a query about groups or uids), gateways known to host none of them are not asked.
    /// </summary>
    public Task<(List<TResponse> Results, ClusterReach Reach)> ScatterAsync<TResponse>(
        ServerCallContext context,
        Func<TResponse> local,
        Func<GatewayService.GatewayServiceClient, CallOptions, AsyncUnaryCall<TResponse>> remote,
        ISet<string>? only = null,
        (Routing.InterestKind? Kind, IReadOnlyList<string> Names)? interest = null)
    {
        Func<string, bool>? mayHost = null;
        if (interest is { } i && _interest is { } view)
        {
            mayHost = id => view.MayHost(id, i.Kind, i.Names);
        }
        return _scatter.ScatterAsync(context, local, remote, only, mayHost);
    }

    /// <summary>Streams every other live gateway's pages of a server-streaming call after the local ones, one gateway at a time.</summary>
    public async Task<ClusterReach> RelayStreamsAsync<TResponse>(
        ServerCallContext context,
        Func<GatewayService.GatewayServiceClient, CallOptions, AsyncServerStreamingCall<TResponse>> remote,
        IServerStreamWriter<TResponse> output)
    {
        var reach = new ClusterReach { GatewaysTotal = 1, GatewaysAnswered = 1, GatewaysAsked = 1 };
        foreach (var peer in membership.Gateways.Where(g => !string.Equals(g.Id, identity.Id, StringComparison.Ordinal)).ToArray())
        {
            reach.GatewaysTotal++;
            reach.GatewaysAsked++;
            try
            {
                var headers = new Metadata { { ScopeHeader, "local" } };
                // A stream may take longer than one unary call: allow ten peer timeouts per gateway.
                var deadline = time.GetUtcNow().UtcDateTime + cluster.Value.PeerTimeout * 10;
                using var call = remote(peers.Get(peer), new CallOptions(headers, deadline < context.Deadline ? deadline : context.Deadline, context.CancellationToken));
                await foreach (var page in call.ResponseStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
                {
                    await output.WriteAsync(page, context.CancellationToken).ConfigureAwait(false);
                }
                reach.GatewaysAnswered++;
            }
            catch (RpcException ex) when (!context.CancellationToken.IsCancellationRequested)
            {
                failures.Record(peer.Id, context.Method, ex);
                reach.UnreachableGatewayIds.Add(peer.Id);
            }
        }
        return reach;
    }

    private Member[] OtherGateways(ISet<string>? only) => _scatter.OtherGateways(only);

    // Refusals (a peer with another secret) are failures to report as much as timeouts are.
    private static bool IsPeerFailure(RpcException ex)
        => ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled
            or StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.ResourceExhausted;

    private CallOptions PeerOptions(ServerCallContext context) => _scatter.PeerOptions(context);
}
