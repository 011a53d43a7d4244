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
    public override Task<RegisterResponse> Register(RegisterRequest request, ServerCallContext context)
    {
        var m = request.Member ?? throw Errors.InvalidField("member", "is required");
        if (string.IsNullOrWhiteSpace(m.Id))
        {
            throw Errors.InvalidField("member.id", "must not be empty");
        }
        if (m.Role == MemberRole.Unspecified)
        {
            throw Errors.InvalidField("member.role", "must be MEMBER_ROLE_GATEWAY or MEMBER_ROLE_WORKER");
        }
        if (string.IsNullOrWhiteSpace(m.Address) || !Uri.TryCreate(m.Address.Contains("://", StringComparison.Ordinal) ? m.Address : "http://" + m.Address, UriKind.Absolute, out _))
        {
            throw Errors.InvalidField("member.address", $"'{m.Address}' is not a valid address such as http://10.0.0.5:8283");
        }
        var ttl = table.Register(m);
        Log.MemberRegistered(logger, m.Role.ToString(), m.Id, m.Address);
        return Task.FromResult(new RegisterResponse { LeaseTtl = Duration.FromTimeSpan(ttl) });
    }

    public override Task<KeepAliveResponse> KeepAlive(KeepAliveRequest request, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.Id))
        {
            throw Errors.InvalidField("id", "must not be empty");
        }
        var ttl = table.KeepAlive(request.Id)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"member '{request.Id}' is not registered (registry restarted or lease lapsed): register again"));
        return Task.FromResult(new KeepAliveResponse { LeaseTtl = Duration.FromTimeSpan(ttl) });
    }

    public override Task<DeregisterResponse> Deregister(DeregisterRequest request, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.Id))
        {
            throw Errors.InvalidField("id", "must not be empty");
        }
        return Task.FromResult(new DeregisterResponse { Removed = table.Remove(request.Id) });
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
    }
}
