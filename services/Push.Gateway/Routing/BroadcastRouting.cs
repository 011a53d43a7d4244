using Grpc.Core;
using Push.Gateway.Control;
using Push.V1;

namespace Push.Gateway.Routing;

/// <summary>
/// Stand-in for the mesh mode until routing-mesh's lands (routing-nats branch only): every push goes to every gateway
/// through <see cref="ClusterRouter.ScatterAsync"/>, as before interest routing. Interest changes are ignored.
/// </summary>
internal sealed class BroadcastRouting(IServiceProvider services) : IPushRouting
{
    // Lazily: ClusterRouter is built on ConnectionTable, which takes this routing in its constructor.
    private ClusterRouter Router => field ??= Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ClusterRouter>(services);

    public string Mode => "mesh";

    public void LocalInterest(InterestKind kind, string name, bool on)
    {
    }

    public ValueTask SyncAsync(CancellationToken ct) => ValueTask.CompletedTask;

    public Task<(long Delivered, ClusterReach Reach)> SendAsync(RoutedPush push, ServerCallContext context, Func<long> local) => push.Request switch
    {
        SendToGroupRequest r => ScatterAsync(context, local, (c, o) => c.SendToGroupAsync(r, o), x => x.Delivered),
        SendToUidRequest r => ScatterAsync(context, local, (c, o) => c.SendToUidAsync(r, o), x => x.Delivered),
        SendToAllRequest r => ScatterAsync(context, local, (c, o) => c.SendToAllAsync(r, o), x => x.Delivered),
        SendBatchRequest r => ScatterAsync(context, local, (c, o) => c.SendBatchAsync(r, o), x => x.Delivered),
        _ => throw new ArgumentException($"not a routed push: {push.Request.Descriptor.FullName}", nameof(push)),
    };

    private async Task<(long, ClusterReach)> ScatterAsync<TResponse>(ServerCallContext context, Func<long> local, Func<GatewayService.GatewayServiceClient, CallOptions, AsyncUnaryCall<TResponse>> remote, Func<TResponse, long> delivered)
        where TResponse : class
    {
        long here = 0;
        var (results, reach) = await Router.ScatterAsync<TResponse?>(context, () =>
        {
            here = local();
            return null; // the local count is kept above; the list holds the peers' answers
        }, (c, o) => remote(c, o)!).ConfigureAwait(false);
        long total = here;
        foreach (var r in results)
        {
            if (r is not null)
            {
                total += delivered(r);
            }
        }
        return (total, reach);
    }
}
