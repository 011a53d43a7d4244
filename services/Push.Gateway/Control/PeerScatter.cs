using Grpc.Core;
using Microsoft.Extensions.Options;
using Push.Hosting;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.Gateway.Control;

/// <summary>
/// Runs an operation here and on other live gateways in parallel (marked "push-scope: local" so they do not fan out
/// again), each peer under a deadline, and tells which gateways answered. Used by <see cref="ClusterRouter"/> and by
/// the mesh routing (which must not depend on the connection table, hence its own class).
/// </summary>
internal sealed class PeerScatter(
    GatewayIdentity identity,
    ClusterMembership membership,
    IPeerClients peers,
    PeerFailures failures,
    IOptions<ClusterOptions> cluster,
    TimeProvider time)
{
    /// <summary>
    /// Runs <paramref name="local"/> here and <paramref name="remote"/> on every other live gateway (only those in
    /// <paramref name="only"/>, and of those only the ones <paramref name="mayHost"/> does not rule out), in parallel.
    /// A gateway ruled out by interest is not asked: it counts in gateways_total and gateways_answered (its part is
    /// known to be empty), not in gateways_asked.
    /// </summary>
    public async Task<(List<TResponse> Results, ClusterReach Reach)> ScatterAsync<TResponse>(
        ServerCallContext context,
        Func<TResponse> local,
        Func<GatewayService.GatewayServiceClient, CallOptions, AsyncUnaryCall<TResponse>> remote,
        ISet<string>? only = null,
        Func<string, bool>? mayHost = null)
    {
        var results = new List<TResponse>();
        var reach = new ClusterReach();
        var includeSelf = only is null || only.Contains(identity.Id);
        if (ClusterRouter.IsForwarded(context))
        {
            results.Add(local());
            reach.GatewaysTotal = reach.GatewaysAnswered = reach.GatewaysAsked = 1;
            return (results, reach);
        }
        var others = OtherGateways(only);
        var calls = others.Length > 0 ? new Task<TResponse>?[others.Length] : [];
        for (var i = 0; i < others.Length; i++)
        {
            if (mayHost is not null && !mayHost(others[i].Id))
            {
                continue; // known to host none of the targets: not asked
            }
            try
            {
                // Options (and their headers) per call: nothing mutable is shared between peer calls.
                calls[i] = remote(peers.Get(others[i]), PeerOptions(context)).ResponseAsync;
            }
            catch (Exception ex)
            {
                calls[i] = Task.FromException<TResponse>(ex);
            }
        }
        if (includeSelf)
        {
            results.Add(local());
            reach.GatewaysTotal++;
            reach.GatewaysAnswered++;
            reach.GatewaysAsked++;
        }
        for (var i = 0; i < others.Length; i++)
        {
            reach.GatewaysTotal++;
            if (calls[i] is not { } call)
            {
                reach.GatewaysAnswered++;
                continue;
            }
            reach.GatewaysAsked++;
            try
            {
                results.Add(await call.ConfigureAwait(false));
                reach.GatewaysAnswered++;
            }
            catch (Exception ex) when (ex is RpcException or OperationCanceledException or HttpRequestException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                // Reported in the answer (reach), counted and logged by reason: never silently skipped.
                failures.Record(others[i].Id, context.Method, ex);
                reach.UnreachableGatewayIds.Add(others[i].Id);
            }
        }
        // Ids of gateways that are gone (named by `only` but not members) are reported too.
        if (only is not null)
        {
            foreach (var id in only)
            {
                if (!string.Equals(id, identity.Id, StringComparison.Ordinal) && !others.Any(o => string.Equals(o.Id, id, StringComparison.Ordinal)))
                {
                    reach.GatewaysTotal++;
                    reach.UnreachableGatewayIds.Add(id);
                }
            }
        }
        return (results, reach);
    }

    // Without LINQ: this runs on every cluster-wide push, and a one-gateway cluster should pay nothing for it.
    internal Member[] OtherGateways(ISet<string>? only)
    {
        var all = membership.Gateways;
        var count = 0;
        foreach (var g in all)
        {
            if (!string.Equals(g.Id, identity.Id, StringComparison.Ordinal) && (only is null || only.Contains(g.Id)))
            {
                count++;
            }
        }
        if (count == 0)
        {
            return [];
        }
        var result = new Member[count];
        var i = 0;
        foreach (var g in all)
        {
            if (!string.Equals(g.Id, identity.Id, StringComparison.Ordinal) && (only is null || only.Contains(g.Id)))
            {
                result[i++] = g;
            }
        }
        return result;
    }

    internal CallOptions PeerOptions(ServerCallContext context, TimeSpan slower = default)
    {
        var deadline = time.GetUtcNow().UtcDateTime + cluster.Value.PeerTimeout + slower;
        if (context.Deadline < deadline)
        {
            deadline = context.Deadline;
        }
        var headers = new Metadata { { ClusterRouter.ScopeHeader, "local" } };
        if (context.UserState.TryGetValue(ClusterRouter.PushIdHeader, out var pushId))
        {
            headers.Add(ClusterRouter.PushIdHeader, ((ulong)pushId).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return new CallOptions(headers, deadline, context.CancellationToken);
    }
}
