using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.V1;

namespace Push.Hosting.Cluster;

/// <summary>
/// Registers this process's roles with every configured registry, renews the leases and watches the membership.
/// Each registry has its own loop; a registry that fails is retried every second while the last view is kept.
/// </summary>
internal sealed partial class RegistryClientService(
    IOptions<ClusterOptions> options,
    IEnumerable<LocalMember> locals,
    AdvertisedAddress advertised,
    ClusterMembership membership,
    TimeProvider time,
    Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime,
    ILogger<RegistryClientService> logger) : BackgroundService
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    private readonly LocalMember[] _locals = locals.ToArray();
    private readonly List<(string Url, RegistryService.RegistryServiceClient Client)> _clients = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Url, string Id), string> _tokens = new();

    protected override async Task ExecuteAsync(CancellationToken hostStopping)
    {
        // Stop renewing and watching as soon as the process starts stopping (the drains deregister explicitly).
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(hostStopping, lifetime.ApplicationStopping);
        var stoppingToken = linked.Token;
        string address;
        try
        {
            address = await advertised.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var registries = options.Value.Registry;
        if (registries.Count == 0)
        {
            return;
        }
        var loops = new List<Task>();
        foreach (var url in registries.Distinct(StringComparer.Ordinal))
        {
            var client = new RegistryService.RegistryServiceClient(PushChannel.Invoker(PushChannel.Create(url, options.Value), options.Value.Secret));
            lock (_clients)
            {
                _clients.Add((url, client));
            }
            loops.Add(RunAsync(url, client, address, stoppingToken));
        }
        await Task.WhenAll(loops).ConfigureAwait(false);
    }

    private async Task RunAsync(string url, RegistryService.RegistryServiceClient client, string address, CancellationToken ct)
    {
        var ttl = options.Value.LeaseTtl;
        var renew = TimeSpan.FromTicks(Math.Max(ttl.Ticks / 4, TimeSpan.FromMilliseconds(100).Ticks));
        // After (re)connecting, a registry's list is trusted to drop members only once every live member had the time
        // to register again with it: a lease, plus the retry interval of members that saw it down.
        var settle = ttl + RetryInterval;
        var wasDown = false;
        while (!ct.IsCancellationRequested)
        {
            using var cycle = CancellationTokenSource.CreateLinkedTokenSource(ct);
            Task? watch = null;
            try
            {
                await RegisterAllAsync(url, client, address, ttl, cycle.Token).ConfigureAwait(false);
                var connectedAt = time.GetTimestamp();
                var settled = false;
                watch = WatchAsync(url, client, cycle.Token);
                if (wasDown)
                {
                    Log.RegistryBack(logger, url);
                    wasDown = false;
                }
                while (!cycle.Token.IsCancellationRequested)
                {
                    var delay = Task.Delay(renew, time, cycle.Token);
                    var done = await Task.WhenAny(delay, watch).ConfigureAwait(false);
                    if (done == watch)
                    {
                        await watch.ConfigureAwait(false); // rethrows the watch failure
                        throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, "watch ended"));
                    }
                    await delay.ConfigureAwait(false);
                    if (!settled && time.GetElapsedTime(connectedAt) >= settle)
                    {
                        membership.Settle(url);
                        settled = true;
                    }
                    foreach (var local in _locals)
                    {
                        if (!local.Active)
                        {
                            continue;
                        }
                        try
                        {
                            await client.KeepAliveAsync(new KeepAliveRequest { Id = local.Id, LeaseToken = Token(url, local) }, deadline: time.GetUtcNow().UtcDateTime + TimeSpan.FromSeconds(2), cancellationToken: cycle.Token).ConfigureAwait(false);
                        }
                        catch (RpcException ex) when (ex.StatusCode is StatusCode.NotFound or StatusCode.PermissionDenied)
                        {
                            await RegisterAsync(url, client, local, address, ttl, cycle.Token).ConfigureAwait(false);
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                if (!wasDown)
                {
                    Log.RegistryDown(logger, url, ex.Message);
                    wasDown = true;
                }
                // Stop the watch first, so that no snapshot of this cycle lands after the registry is marked down.
                await cycle.CancelAsync().ConfigureAwait(false);
                if (watch is not null)
                {
                    await ((Task)watch).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
                membership.MarkDown(url);
                try
                {
                    await Task.Delay(RetryInterval, time, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private async Task RegisterAllAsync(string url, RegistryService.RegistryServiceClient client, string address, TimeSpan ttl, CancellationToken ct)
    {
        foreach (var local in _locals)
        {
            if (local.Active)
            {
                await RegisterAsync(url, client, local, address, ttl, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task RegisterAsync(string url, RegistryService.RegistryServiceClient client, LocalMember local, string address, TimeSpan ttl, CancellationToken ct)
    {
        var member = new Member { Id = local.Id, Role = local.Role, Address = address, LeaseTtl = Duration.FromTimeSpan(ttl) };
        member.Metadata.Add(local.Metadata);
        RegisterResponse r;
        // The first registration proposes its own token: if its answer gets lost, the retry presents the token the
        // registry stored and is answered again (without it the id stays refused until its lease lapses).
        if (!_tokens.ContainsKey((url, local.Id)))
        {
            _tokens[(url, local.Id)] = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        }
        try
        {
            r = await client.RegisterAsync(new RegisterRequest { Member = member, LeaseToken = Token(url, local) }, deadline: time.GetUtcNow().UtcDateTime + TimeSpan.FromSeconds(2), cancellationToken: ct).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.FailedPrecondition)
        {
            // Our id is live there under a token we do not hold (our earlier answer was lost): the registry is up, the
            // old lease lapses within its ttl and the next renewal registers afresh.
            Log.RegisterConflict(logger, local.Id, url, ex.Status.Detail);
            return;
        }
        _tokens[(url, local.Id)] = r.LeaseToken;
        Log.Registered(logger, local.Role.ToString(), local.Id, address);
    }

    // Each registry hands out its own lease token per registration.
    private string Token(string url, LocalMember local) => _tokens.TryGetValue((url, local.Id), out var t) ? t : string.Empty;

    private async Task WatchAsync(string url, RegistryService.RegistryServiceClient client, CancellationToken ct)
    {
        using var call = client.WatchMembers(new WatchMembersRequest(), cancellationToken: ct);
        await foreach (var snapshot in call.ResponseStream.ReadAllAsync(ct).ConfigureAwait(false))
        {
            membership.Update(url, snapshot.Members);
        }
    }

    /// <summary>Removes this process's members from every registry at once (drain and shutdown).</summary>
    public async Task DeregisterAsync(LocalMember local)
    {
        local.Active = false;
        (string Url, RegistryService.RegistryServiceClient Client)[] clients;
        lock (_clients)
        {
            clients = _clients.ToArray();
        }
        await Task.WhenAll(clients.Select(async c =>
        {
            try
            {
                await c.Client.DeregisterAsync(new DeregisterRequest { Id = local.Id, LeaseToken = Token(c.Url, local) }, deadline: DateTime.UtcNow.AddSeconds(2)).ConfigureAwait(false);
            }
            catch (RpcException)
            {
                // the lease lapses anyway
            }
        })).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var local in _locals)
        {
            if (local.Active)
            {
                await DeregisterAsync(local).ConfigureAwait(false);
            }
        }
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(1005, LogLevel.Warning, "Registry {Url} refused to register {MemberId}: {Detail}", EventName = "RegisterConflict")]
        public static partial void RegisterConflict(ILogger logger, string memberId, string url, string detail);

        [LoggerMessage(1001, LogLevel.Information, "Registered {Role} {MemberId} at {Address}.", EventName = "Registered")]
        public static partial void Registered(ILogger logger, string role, string memberId, string address);

        [LoggerMessage(1002, LogLevel.Warning, "Registry {Registry} is unreachable: {Reason}. Keeping the last known membership and retrying every second.", EventName = "RegistryDown")]
        public static partial void RegistryDown(ILogger logger, string registry, string reason);

        [LoggerMessage(1003, LogLevel.Information, "Registry {Registry} answers again.", EventName = "RegistryBack")]
        public static partial void RegistryBack(ILogger logger, string registry);
    }
}
