namespace Push.Hosting.Security;

/// <summary>Names of the suite's authentication scheme, policy and roles.</summary>
internal static class PushAuth
{
    /// <summary>"authorization: Bearer SECRET" checked against Cluster:Secret and Cluster:ControlSecret.</summary>
    public const string Scheme = "push-bearer";

    /// <summary>The policy every push.v1 and reflection endpoint requires; <see cref="AccessHandler"/> decides by method.</summary>
    public const string Policy = "push";

    /// <summary>A cluster member (registry, gateway, worker): may call everything.</summary>
    public const string MemberRole = "member";

    /// <summary>A backend: may call the control API (push.v1.GatewayService) only.</summary>
    public const string ControlRole = "control";
}
