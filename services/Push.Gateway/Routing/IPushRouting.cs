namespace Push.Gateway.Routing;

/// <summary>What an interest transition is about.</summary>
internal enum InterestKind { Group, Uid }

/// <summary>The kind of a cluster-wide push.</summary>
internal enum RoutedKind { Group, Uid, All, Batch }

/// <summary>
/// A cluster-wide push as the control API received it: its kind, the group or uid names it targets (empty for All;
/// for Batch the union of the items' group and uid names) and the request itself, which the routing forwards
/// unchanged (mesh: the same GatewayService call with push-scope: local; NATS: the serialized request on subjects).
/// A SendBatch with an item for everyone (or for a client id, whose connection may have moved to any gateway) comes
/// as <see cref="RoutedKind.All"/> with the SendBatchRequest: it goes to every gateway.
/// PushId is ClusterRouter.PushId(context) (resumable connections de-duplicate by it).
/// </summary>
internal sealed record RoutedPush(RoutedKind Kind, IReadOnlyList<string> Names, Google.Protobuf.IMessage Request, ulong PushId);

/// <summary>
/// How group, uid and all pushes (and the queries that can use the same knowledge) reach the other gateways.
/// ConnectionTable takes it in its constructor: an implementation must not take ConnectionTable (or anything built
/// on it: ClusterRouter, GatewayGrpcService) in its own constructor; resolve those lazily (IServiceProvider).
/// </summary>
internal interface IPushRouting
{
    /// <summary>"mesh" or "nats" (GetStatus/metrics/logs say it).</summary>
    string Mode { get; }

    /// <summary>
    /// A local 0→1 (on: true) or 1→0 (on: false) transition of this gateway's members of a group or uid. Called by
    /// ConnectionTable while it holds its lock: must not block or throw (queue it).
    /// </summary>
    void LocalInterest(InterestKind kind, string name, bool on);

    /// <summary>
    /// Completes when every LocalInterest call made before it is in effect cluster-wide (mesh: every live peer has
    /// acknowledged it, or is treated as out of sync and receives every push until it is back in sync; NATS: the
    /// subscription is registered on the server). JoinGroup and BindUid await it before they answer, so a push
    /// started after a join returned reaches the member.
    /// </summary>
    ValueTask SyncAsync(CancellationToken ct);

    /// <summary>
    /// Runs <paramref name="local"/> here and sends the push to every other gateway that may host targets of it;
    /// returns the sum of delivered counts and the cluster reach (which gateways were asked / answered).
    /// </summary>
    Task<(long Delivered, Push.V1.ClusterReach Reach)> SendAsync(RoutedPush push, global::Grpc.Core.ServerCallContext context, Func<long> local);
}

/// <summary>
/// Which gateways may host members of groups or uids, as far as this gateway knows (mesh routing): the queries and
/// counts of the control API ask only those. Optional: without it every query goes to every gateway.
/// </summary>
internal interface IInterestView
{
    /// <summary>
    /// False when <paramref name="gatewayId"/> is known (from an in-sync view) to host none of <paramref name="names"/>
    /// (groups or uids as <paramref name="kind"/> says; null: either); true when it may (it has interest in one, or
    /// its view here may be stale). Counted by decision.
    /// </summary>
    bool MayHost(string gatewayId, InterestKind? kind, IReadOnlyList<string> names);
}
