using Push.V1;

namespace Push.Hosting.Cluster;

/// <summary>A role this process registers with the registries (a process of `push start` registers two).</summary>
internal sealed class LocalMember(string id, MemberRole role)
{
    public string Id { get; } = id;
    public MemberRole Role { get; } = role;
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Set false while draining: the member deregisters and stops renewing.</summary>
    public volatile bool Active = true;

    /// <summary>A new random 64-bit id (OS CSPRNG) as 16 lower-case hex characters (never reused across restarts).</summary>
    public static string NewId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
}
