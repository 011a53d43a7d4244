using System.Buffers;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;
using Push.Gateway.Control;
using Push.V1;

namespace Push.Gateway.Routing.Nats;

/// <summary>
/// Cluster:Routing=nats. A gateway subscribes to a group's or uid's subject while it hosts members of it (and always to
/// PREFIX.all); a push is published once per target subject (the serialized request in a <see cref="NatsEnvelope"/>) and
/// the gateways that receive it run its local part (<see cref="NatsLocalDelivery"/>), never publishing again. Delivered
/// counts are this gateway's own: NATS does not say who received a publication (see docs/routing-nats.md).
/// </summary>
internal sealed class NatsRouting : IPushRouting, IAsyncDisposable, ISubjectSubscriber
{
    private readonly GatewayIdentity _identity;
    private readonly IServiceProvider _services;
    private readonly NatsMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly NatsConnection _connection;
    private readonly NatsInterest _interest;
    private readonly RecentPushIds _recent = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Action<string, ReadOnlySequence<byte>> _onMessage;
    private Task? _loop;
    private long _disconnectedAt;
    private volatile bool _confirmed;

    // ConnectionTable takes this routing in its constructor: the delivery (built on the table) is resolved lazily.
    public NatsRouting(IServiceProvider services, GatewayIdentity identity, NatsMetrics metrics, IOptions<NatsRoutingOptions> options, ILoggerFactory loggers, TimeProvider time)
    {
        var o = options.Value;
        _identity = identity;
        _services = services;
        _metrics = metrics;
        _time = time;
        _logger = loggers.CreateLogger("Push.Gateway.Routing.Nats");
        Prefix = o.NatsSubjectPrefix;
        Urls = string.Join(',', (o.NatsUrl ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        _connection = new NatsConnection(new NatsOpts
        {
            Url = Urls,
            Name = "push-gateway " + identity.Id,
            Echo = false, // this gateway delivers its own pushes locally: the server does not send them back
            RetryOnInitialConnect = true,
            NoRandomize = true, // the URLs in the order given (each gateway can prefer another node)
            ReconnectWaitMin = o.NatsReconnectWait,
            ReconnectWaitMax = TimeSpan.FromSeconds(2),
            ReconnectJitter = TimeSpan.FromMilliseconds(50),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            CommandTimeout = o.NatsPublishTimeout,
            PublishTimeoutOnDisconnected = true, // a publish that meets a loss fails after CommandTimeout, never waits for the reconnect
            PingInterval = TimeSpan.FromSeconds(5), // a silent network loss shows within ~10 s (2 PINGs out)
            MaxPingOut = 2,
            LoggerFactory = loggers,
        });
        _connection.ConnectionDisconnected += OnDisconnectedAsync;
        _connection.ConnectionOpened += OnOpenedAsync;
        _connection.ReconnectFailed += OnReconnectFailedAsync;
        _interest = new NatsInterest(this, _logger, time);
        _onMessage = OnMessage;
        metrics.Connected = () => Ready;
        metrics.Subscriptions = () => _interest.Subscribed;
    }

    private NatsLocalDelivery Delivery => field ??= Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<NatsLocalDelivery>(_services);

    public string Mode => "nats";

    public string Prefix { get; }

    public string Urls { get; }

    /// <summary>Open, and a PING after the last (re)connect came back: the server has every subscription.</summary>
    public bool Ready => _confirmed && _connection.ConnectionState == NatsConnectionState.Open;

    public NatsConnectionState State => _connection.ConnectionState;

    public void LocalInterest(InterestKind kind, string name, bool on) => _interest.Change(NatsSubjects.Of(Prefix, kind, name), on);

    public ValueTask SyncAsync(CancellationToken ct) => new(_interest.SyncAsync(ct));

    public async Task<(long Delivered, ClusterReach Reach)> SendAsync(RoutedPush push, ServerCallContext context, Func<long> local)
    {
        var reach = new ClusterReach { GatewaysTotal = 1, GatewaysAnswered = 1 };
        if (ClusterRouter.IsForwarded(context))
        {
            return (local(), reach);
        }
        var subjects = Subjects(push);
        // By the request (a batch with an item for everyone comes as RoutedKind.All with its SendBatchRequest).
        var routed = push.Request switch
        {
            SendToGroupRequest => RoutedKind.Group,
            SendToUidRequest => RoutedKind.Uid,
            SendToAllRequest => RoutedKind.All,
            SendBatchRequest => RoutedKind.Batch,
            _ => throw new ArgumentException($"not a routed push: {push.Request.Descriptor.FullName}", nameof(push)),
        };
        var envelope = NatsEnvelope.Encode(routed, push.PushId, subjects.Count > 1, _identity.Id, push.Request);
        var kind = NatsMetrics.Kind(routed);
        var failed = 0;
        string? reason = null;
        if (_connection.ConnectionState != NatsConnectionState.Open)
        {
            (failed, reason) = (subjects.Count, "disconnected");
        }
        else
        {
            foreach (var subject in subjects)
            {
                try
                {
                    await _connection.PublishAsync(subject, envelope, cancellationToken: context.CancellationToken).ConfigureAwait(false);
                    _metrics.Published(kind);
                }
                catch (Exception ex) when (ex is NatsException or TimeoutException or OperationCanceledException or ObjectDisposedException)
                {
                    failed++;
                    reason = ex switch
                    {
                        TimeoutException or NatsTimeoutException => "timeout",
                        OperationCanceledException => "cancelled",
                        _ => "error",
                    };
                }
            }
        }
        var n = local();
        if (failed > 0)
        {
            _metrics.PublishFailed(reason!, failed);
            NatsLog.PublishFailed(_logger, kind, push.PushId, failed, subjects.Count, reason!);
            // Reported in the answer: the other gateways may not have received it.
            reach.GatewaysTotal = 2;
            reach.UnreachableGatewayIds.Add("nats");
        }
        return (n, reach);
    }

    /// <summary>The subjects a push goes out on (one per distinct group or uid; PREFIX.all for everyone).</summary>
    public List<string> Subjects(RoutedPush push)
    {
        var set = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string s)
        {
            if (seen.Add(s))
            {
                set.Add(s);
            }
        }
        switch (push.Request)
        {
            case SendToGroupRequest r:
                foreach (var g in r.Groups)
                {
                    Add(NatsSubjects.Group(Prefix, g));
                }
                break;
            case SendToUidRequest r:
                foreach (var u in r.Uids)
                {
                    Add(NatsSubjects.Uid(Prefix, u));
                }
                break;
            case SendBatchRequest r:
                // An item for everyone, or for a client id (its gateway, or the one it resumed on), goes to every gateway.
                if (r.Items.Any(i => i.All || i.ClientId.Length > 0))
                {
                    Add(NatsSubjects.All(Prefix));
                    break;
                }
                foreach (var item in r.Items)
                {
                    foreach (var g in item.Groups)
                    {
                        Add(NatsSubjects.Group(Prefix, g));
                    }
                    foreach (var u in item.Uids)
                    {
                        Add(NatsSubjects.Uid(Prefix, u));
                    }
                }
                break;
            default:
                Add(NatsSubjects.All(Prefix));
                break;
        }
        return set;
    }

    // On the NATS reader: decode, take a multi-subject push once, run the local part.
    private void OnMessage(string subject, ReadOnlySequence<byte> payload)
    {
        if (!NatsEnvelope.TryDecode(payload, out var e))
        {
            _metrics.Rejected("malformed");
            NatsLog.Rejected(_logger, subject, "not a push envelope of version " + NatsEnvelope.Version);
            return;
        }
        if (string.Equals(e.Origin, _identity.Id, StringComparison.Ordinal))
        {
            return; // never sent with Echo=false; delivered locally already
        }
        _metrics.Received(NatsMetrics.Kind(e.Kind));
        if (e.Multi && !_recent.TryAdd(e.PushId))
        {
            _metrics.Duplicate();
            return;
        }
        try
        {
            Delivery.Deliver(e);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException ex)
        {
            _metrics.Rejected("malformed");
            NatsLog.Rejected(_logger, subject, ex.Message);
        }
        catch (RpcException ex)
        {
            _metrics.Rejected("invalid");
            NatsLog.Rejected(_logger, subject, ex.Status.Detail);
        }
    }

    async ValueTask<IAsyncDisposable> ISubjectSubscriber.SubscribeAsync(string subject, CancellationToken ct)
    {
        var sub = new NatsRawSubscription(_connection, subject, _onMessage);
        await _connection.AddSubAsync(sub, ct).ConfigureAwait(false);
        return sub;
    }

    async ValueTask ISubjectSubscriber.PingAsync(CancellationToken ct) => await _connection.PingAsync(ct).ConfigureAwait(false);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _interest.Change(NatsSubjects.All(Prefix), on: true);
        _loop = Task.Run(() => _interest.RunAsync(_stop.Token), CancellationToken.None);
        _ = ConnectAsync();
        return Task.CompletedTask;
    }

    // Retries until it connects (RetryOnInitialConnect); readiness says "not connected" meanwhile.
    private async Task ConnectAsync()
    {
        try
        {
            await _connection.ConnectAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or ObjectDisposedException)
        {
            NatsLog.ReconnectFailed(_logger, ex.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _connection.ConnectionDisconnected -= OnDisconnectedAsync;
        await _connection.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
    {
        _confirmed = false;
        Interlocked.CompareExchange(ref _disconnectedAt, _time.GetTimestamp(), 0);
        _metrics.Disconnected();
        NatsLog.Disconnected(_logger, Urls, args.Message, _interest.Subscribed);
        return ValueTask.CompletedTask;
    }

    private ValueTask OnOpenedAsync(object? sender, NatsEventArgs args)
    {
        // Ready once a PING after the subscriptions (resent by the client on reconnect) has come back.
        _ = ConfirmAsync();
        return ValueTask.CompletedTask;
    }

    private async Task ConfirmAsync()
    {
        try
        {
            await _interest.SyncAsync(_stop.Token).ConfigureAwait(false); // ends with a PING round trip
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            return; // lost again, or stopping: the next open confirms
        }
        _confirmed = true;
        var server = _connection.ServerInfo is { } info ? $"{info.Host}:{info.Port} ({info.Name})" : Urls;
        var since = Interlocked.Exchange(ref _disconnectedAt, 0);
        if (since != 0)
        {
            NatsLog.Reconnected(_logger, server, _time.GetElapsedTime(since).TotalSeconds);
        }
        else
        {
            NatsLog.Connected(_logger, server, Prefix, _interest.Subscribed);
        }
    }

    private ValueTask OnReconnectFailedAsync(object? sender, NatsEventArgs args)
    {
        NatsLog.ReconnectFailed(_logger, args.Message);
        return ValueTask.CompletedTask;
    }
}
