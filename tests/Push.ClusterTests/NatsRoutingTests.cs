using Push.Testing;
using Push.V1;
using Xunit.Abstractions;
using static Push.ClusterTests.Cluster;

namespace Push.ClusterTests;

/// <summary>
/// NATS routing (Cluster:Routing=nats) with three gateways on one nats-server: group, uid, multi-group, all and batch
/// pushes through any gateway reach the members on the others exactly once; a gateway without members of a group or
/// uid receives no publication for it (its push_gateway_routing_nats_received_total stays put). Delivered counts are
/// the called gateway's own (docs/routing-nats.md).
/// </summary>
[Trait("Category", "Integration")]
public sealed class NatsRoutingTests(NatsClusterFixture cluster, ITestOutputHelper output) : IClassFixture<NatsClusterFixture>
{
    [Fact]
    public async Task Pushes_ThroughAnyGateway_ReachMembersOnOthersOnce_AndSkipGatewaysWithoutMembers()
    {
        var ct = TestTimeouts.Token();
        output.WriteLine($"nats-server, registry, {NatsClusterFixture.GatewayCount} gateways in nats mode and a worker ready in {Ms(cluster.StartupTime)}");
        var (gw0, gw1, gw2) = (cluster.Controls[0], cluster.Controls[1], cluster.Controls[2]);
        await using var a = await TestWebSocket.ConnectAsync(cluster.Gateways[0].Ws, cancellationToken: ct);
        await using var b = await TestWebSocket.ConnectAsync(cluster.Gateways[1].Ws, cancellationToken: ct);
        await using var c = await TestWebSocket.ConnectAsync(cluster.Gateways[2].Ws, cancellationToken: ct);
        var (group, other, uid) = (Unique("g"), Unique("g2"), Unique("u"));

        // Members on gateways 0 and 1 only; joins sent through gateways that do not own the client.
        await gw2.JoinGroupAsync(a.ClientId, group, ct);
        await gw2.JoinGroupAsync(b.ClientId, group, ct);
        await gw0.JoinGroupAsync(a.ClientId, other, ct);
        await gw0.JoinGroupAsync(b.ClientId, other, ct);
        await gw2.BindUidAsync(b.ClientId, uid, ct);
        var before2 = await cluster.NatsMetricAsync(2, "received", null, ct);
        var received0 = await cluster.NatsMetricAsync(0, "received", "kind=\"group\"", ct);

        // Through the gateway without members: it delivers 0 itself, both members get it once.
        var r = await gw2.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, Text = "g-from-2" }, cancellationToken: ct);
        Assert.Equal(0, r.Delivered);
        Assert.Empty(r.Reach.UnreachableGatewayIds);
        await AssertTextAsync(a, "g-from-2", ct);
        await AssertTextAsync(b, "g-from-2", ct);

        // Through a gateway with a member: it counts its own.
        r = await gw0.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, Text = "g-from-0" }, cancellationToken: ct);
        Assert.Equal(1, r.Delivered);
        await AssertTextAsync(a, "g-from-0", ct);
        await AssertTextAsync(b, "g-from-0", ct);

        // Two groups both clients are in: published once per group, taken once per client.
        r = await gw2.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group, other }, Text = "two-groups" }, cancellationToken: ct);
        await AssertTextAsync(a, "two-groups", ct);
        await AssertTextAsync(b, "two-groups", ct);
        await WaitUntilAsync(async () => await cluster.NatsMetricAsync(0, "duplicates", null, ct) >= 1, "gateway 0 counts the second copy of the two-group push as a duplicate", ct);

        // A uid on gateway 1, through gateway 0.
        var u = await gw0.Raw.SendToUidAsync(new SendToUidRequest { Uids = { uid }, Text = "to-uid" }, cancellationToken: ct);
        Assert.Equal(0, u.Delivered);
        await AssertTextAsync(b, "to-uid", ct);

        // A batch of a group item and a uid item, through gateway 2.
        await gw2.Raw.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { Groups = { other }, Text = "batch-group" }, new BatchItem { Uids = { uid }, Text = "batch-uid" } } }, cancellationToken: ct);
        await AssertTextAsync(a, "batch-group", ct);
        await AssertTextAsync(b, "batch-group", ct);
        await AssertTextAsync(b, "batch-uid", ct);

        // Nothing more arrived anywhere (exactly once), and gateway 2 received no group/uid/batch publication at all.
        await AssertReceivedNothingAsync(a, ct);
        await AssertReceivedNothingAsync(b, ct);
        await AssertReceivedNothingAsync(c, ct);
        await WaitUntilAsync(async () => await cluster.NatsMetricAsync(0, "received", "kind=\"group\"", ct) >= received0 + 3, "gateway 0 counts the group publications it received", ct);

        // Everyone: every gateway subscribes to PREFIX.all.
        var all = await gw1.Raw.SendToAllAsync(new SendToAllRequest { Text = "to-all" }, cancellationToken: ct);
        Assert.Equal(1, all.Delivered);
        await AssertTextAsync(a, "to-all", ct);
        await AssertTextAsync(b, "to-all", ct);
        await AssertTextAsync(c, "to-all", ct);
        // (/metrics may answer from a cache for a moment: wait for the count to include the push for everyone, which
        // is then the only publication gateway 2 ever received.)
        await WaitUntilAsync(async () => await cluster.NatsMetricAsync(2, "received", null, ct) >= before2 + 1, "gateway 2 counts the push for everyone", ct);
        Assert.Equal(before2 + 1, await cluster.NatsMetricAsync(2, "received", null, ct));

        // Once the members leave, gateways 0 and 1 unsubscribe (PREFIX.all and the other group stay; gateway 1 keeps
        // the uid too), and a push to the group reaches nobody.
        Assert.Equal(3, await MetricAsync(cluster.Gateways[0], "push_gateway_routing_nats_subscriptions", null, ct));
        await gw1.LeaveGroupAsync(a.ClientId, group, ct);
        await gw1.LeaveGroupAsync(b.ClientId, group, ct);
        await WaitUntilAsync(async () => await MetricAsync(cluster.Gateways[0], "push_gateway_routing_nats_subscriptions", null, ct) == 2
            && await MetricAsync(cluster.Gateways[1], "push_gateway_routing_nats_subscriptions", null, ct) == 3, "gateways 0 and 1 unsubscribed from the group", ct);
        await gw2.Raw.SendToGroupAsync(new SendToGroupRequest { Groups = { group }, Text = "nobody" }, cancellationToken: ct);
        await AssertReceivedNothingAsync(a, ct);
        await AssertReceivedNothingAsync(b, ct);

        // A batch with an item for a client id goes to every gateway (PREFIX.all): its owner delivers that item, the
        // group item is taken once by each member.
        await gw1.Raw.SendBatchAsync(new SendBatchRequest { Items = { new BatchItem { ClientId = c.ClientId, Text = "batch-client" }, new BatchItem { Groups = { other }, Text = "batch-other" } } }, cancellationToken: ct);
        await AssertTextAsync(c, "batch-client", ct);
        await AssertTextAsync(a, "batch-other", ct);
        await AssertTextAsync(b, "batch-other", ct);
        await AssertReceivedNothingAsync(a, ct);
        await AssertReceivedNothingAsync(b, ct);
        await AssertReceivedNothingAsync(c, ct);

        // Client-id sends stay on the gateway-to-gateway path.
        Assert.Equal(1, await gw2.SendToClientAsync(a.ClientId, "direct", ct));
        await AssertTextAsync(a, "direct", ct);
        output.WriteLine($"published by gateway 2: {await cluster.NatsMetricAsync(2, "published", null, ct)}, failed: {await cluster.NatsMetricAsync(2, "publish_failed", null, ct)}");
        Assert.Equal(0, await cluster.NatsMetricAsync(2, "publish_failed", null, ct));
        Assert.True(await cluster.NatsMetricAsync(2, "published", null, ct) >= 6, "gateway 2 published its pushes (one per subject)");
    }
}
