using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Push.Hosting;
using Push.Registry.Membership;
using Push.V1;

namespace Push.Registry.Grpc;

/// <summary>gRPC adapter over <see cref="MemberTable"/>.</summary>
internal sealed partial class RegistryGrpcService(MemberTable table, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime, ILogger<RegistryGrpcService> logger) : RegistryService.RegistryServiceBase
{
    private const int MaxIdLength = 64;
    private const int MaxMetadataEntries = 32;
    private const int MaxMetadataLength = 1024;

    public override Task<RegisterResponse> Register(RegisterRequest request, ServerCallContext context)
    {
        var m = request.Member ?? throw Errors.InvalidField("member", "is required");
        ValidateId(m.Id, "member.id");
        if (m.Role is not (MemberRole.Gateway or MemberRole.Worker))
        {
            throw Errors.InvalidField("member.role", "must be MEMBER_ROLE_GATEWAY or MEMBER_ROLE_WORKER");
        }
        if (string.IsNullOrWhiteSpace(m.Address)
            || !Uri.TryCreate(m.Address.Contains("://", StringComparison.Ordinal) ? m.Address : "http://" + m.Address, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host) || m.Address.Length > 512)
        {
            throw Errors.InvalidField("member.address", $"'{m.Address}' is not a valid address such as http://10.0.0.5:8283");
        }
        if (m.Metadata.Count > MaxMetadataEntries || m.Metadata.Any(kv => kv.Key.Length + kv.Value.Length > MaxMetadataLength))
        {
            throw Errors.InvalidField("member.metadata", $"at most {MaxMetadataEntries} entries of at most {MaxMetadataLength} characters each");
        }
        if (table.Register(m, request.LeaseToken, out var ttl, out var token, out var live) == MemberTable.RegisterOutcome.Conflict)
        {
            Log.MemberConflict(logger, m.Id, live!.Role.ToString(), live.Address, m.Role.ToString(), m.Address);
            throw Errors.MemberConflict($"member '{m.Id}' is live as {live.Role} at {live.Address}: a live member's id cannot be registered with another address or role (it is new at every start; wait for its lease to lapse, or present its lease_token)");
        }
        Log.MemberRegistered(logger, m.Role.ToString(), m.Id, m.Address);
        return Task.FromResult(new RegisterResponse { LeaseTtl = Duration.FromTimeSpan(ttl), LeaseToken = token });
    }

    public override Task<KeepAliveResponse> KeepAlive(KeepAliveRequest request, ServerCallContext context)
    {
        ValidateId(request.Id, "id");
        var ttl = table.KeepAlive(request.Id, request.LeaseToken, out var denied);
        if (denied)
        {
            throw Errors.PermissionDenied($"lease_token is not the lease token of member '{request.Id}'");
        }
        return Task.FromResult(new KeepAliveResponse
        {
            LeaseTtl = Duration.FromTimeSpan(ttl ?? throw new RpcException(new Status(StatusCode.NotFound, $"member '{request.Id}' is not registered (registry restarted or lease lapsed): register again"))),
        });
    }

    public override Task<DeregisterResponse> Deregister(DeregisterRequest request, ServerCallContext context)
    {
        ValidateId(request.Id, "id");
        var removed = table.Remove(request.Id, request.LeaseToken, out var denied);
        return denied
            ? throw Errors.PermissionDenied($"lease_token is not the lease token of member '{request.Id}'")
            : Task.FromResult(new DeregisterResponse { Removed = removed });
    }

    private static void ValidateId(string? id, string field)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw Errors.InvalidField(field, "must not be empty");
        }
        if (id.Length > MaxIdLength || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw Errors.InvalidField(field, $"'{(id.Length > MaxIdLength ? id[..MaxIdLength] + "..." : id)}' must be 1 to {MaxIdLength} letters, digits, '.', '_' or '-'");
        }
    }

    public override Task<ListMembersResponse> ListMembers(ListMembersRequest request, ServerCallContext context)
        => Task.FromResult(new ListMembersResponse { Members = { table.Snapshot(request.Role).Members } });

    public override async Task WatchMembers(WatchMembersRequest request, IServerStreamWriter<WatchMembersResponse> responseStream, ServerCallContext context)
    {
        // Watches end when the process stops, so that Kestrel's graceful shutdown does not wait for them.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var ct = stopping.Token;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var (members, changed) = table.Snapshot(request.Role);
                await responseStream.WriteAsync(new WatchMembersResponse { Members = { members } }, ct).ConfigureAwait(false);
                await changed.WaitAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2101, LogLevel.Debug, "Member registered: {Role} {MemberId} at {Address}.", EventName = "MemberRegistered")]
        public static partial void MemberRegistered(ILogger logger, string role, string memberId, string address);

        [LoggerMessage(2102, LogLevel.Warning, "Refused to move live member {MemberId} ({LiveRole} at {LiveAddress}) to {Role} at {Address}: a take-over attempt or a duplicated id.", EventName = "MemberConflict")]
        public static partial void MemberConflict(ILogger logger, string memberId, string liveRole, string liveAddress, string role, string address);
    }
}
