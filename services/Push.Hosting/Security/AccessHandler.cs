using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace Push.Hosting.Security;

/// <summary>The requirement of <see cref="PushAuth.Policy"/>: the caller's role may call this gRPC method.</summary>
internal sealed class AccessRequirement : IAuthorizationRequirement;

/// <summary>
/// Decides by gRPC method: members may call everything; a control credential may call the control API
/// (push.v1.GatewayService, except Drain and calls forwarded between gateways with "push-scope"), read the registry's
/// membership and use reflection. Unauthenticated callers fail the requirement (answered UNAUTHENTICATED); a control
/// credential on member scope fails with a reason (answered PERMISSION_DENIED).
/// </summary>
internal sealed class AccessHandler : AuthorizationHandler<AccessRequirement>
{
    public const string ScopeHeader = "push-scope";

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AccessRequirement requirement)
    {
        if (context.User.IsInRole(PushAuth.MemberRole))
        {
            context.Succeed(requirement);
            return Task.CompletedTask;
        }
        if (!context.User.IsInRole(PushAuth.ControlRole) || context.Resource is not HttpContext http)
        {
            return Task.CompletedTask;
        }
        // The gRPC method the endpoint serves, not the raw path: routing matches paths case-insensitively (and
        // forgives a trailing slash), so "/push.v1.GatewayService/drain" reaches Drain too.
        var method = http.GetEndpoint()?.Metadata.GetMetadata<Grpc.AspNetCore.Server.GrpcMethodMetadata>()?.Method;
        var path = method is null ? http.Request.Path.Value ?? string.Empty : method.FullName.StartsWith('/') ? method.FullName : "/" + method.FullName;
        var denied = MemberOnly(path, http.Request.Headers.ContainsKey(ScopeHeader));
        if (denied is null)
        {
            context.Succeed(requirement);
        }
        else
        {
            context.Fail(new AuthorizationFailureReason(this, $"permission denied: {denied}; a control credential (Cluster:ControlSecret) cannot make it, it needs the member credential (Cluster:Secret)"));
        }
        return Task.CompletedTask;
    }

    /// <summary>Why a control credential may not call <paramref name="path"/>, or null when it may.</summary>
    internal static string? MemberOnly(string path, bool forwarded)
    {
        if (path.StartsWith("/push.v1.GatewayService/", StringComparison.Ordinal))
        {
            if (forwarded)
            {
                return "calls with the push-scope header are gateway-to-gateway (member scope)";
            }
            return path.EndsWith("/Drain", StringComparison.Ordinal) ? "Drain takes a gateway out of service (member scope)" : null;
        }
        if (path is "/push.v1.RegistryService/ListMembers" or "/push.v1.RegistryService/WatchMembers")
        {
            return null;
        }
        if (path.StartsWith("/grpc.reflection.", StringComparison.Ordinal))
        {
            return null;
        }
        if (path.StartsWith("/push.v1.RegistryService/", StringComparison.Ordinal))
        {
            return "registering, renewing or removing members is member scope";
        }
        if (path.StartsWith("/push.v1.BusinessService/", StringComparison.Ordinal))
        {
            return "worker streams carry every client's events (member scope)";
        }
        if (path.StartsWith("/push.v1.ResumeService/", StringComparison.Ordinal))
        {
            return "handoffs of resumable connections are gateway-to-gateway (member scope)";
        }
        return "this method is member scope";
    }
}
