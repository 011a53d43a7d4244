namespace Push.Gateway.Routing;

internal enum InterestKind { Group, Uid }
internal enum RoutedKind { Group, Uid, All, Batch }

/// A cluster-wide push as the control API received it: its kind, the group or uid names it targets (empty for All;
/// for Batch the union of the items' names, plus All when an item targets everyone) and the request itself, which the
/// routing forwards unchanged (mesh: the same GatewayService call with push-scope: local; NATS: the serialized
/// request on subjects). PushId is ClusterRouter.PushId(context) (resumable connections de-duplicate by it).
internal sealed record RoutedPush(RoutedKind Kind, IReadOnlyList<string> Names, Google.Protobuf.IMessage Request, ulong PushId);

/// How group, uid and all pushes (and the queries that can use the same knowledge) reach the other gateways.
internal interface IPushRouting
{
    /// "mesh" or "nats" (GetStatus/metrics/logs say it).
    string Mode { get; }

    /// A local 0→1 (on: true) or 1→0 (on: false) transition of this gateway's members of a group or uid. Called by
    /// ConnectionTable while it holds its lock: must not block or throw (queue it).
    void LocalInterest(InterestKind kind, string name, bool on);

    /// Completes when every LocalInterest call made before it is in effect cluster-wide (mesh: every live peer has
    /// acknowledged it, or is treated as out of sync and receives every push until it is back in sync; NATS: the
    /// subscription is registered on the server). JoinGroup and BindUid await it before they answer, so a push
    /// started after a join returned reaches the member.
    ValueTask SyncAsync(CancellationToken ct);

    /// Runs <paramref name="local"/> here and sends the push to every other gateway that may host targets of it;
    /// returns the sum of delivered counts and the cluster reach (which gateways were asked / answered).
    Task<(long Delivered, Push.V1.ClusterReach Reach)> SendAsync(RoutedPush push, global::Grpc.Core.ServerCallContext context, Func<long> local);
}
