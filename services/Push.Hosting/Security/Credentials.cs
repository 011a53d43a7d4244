using Microsoft.Extensions.Options;

namespace Push.Hosting.Security;

/// <summary>
/// The accepted member and control secrets, parsed once per process (authentication handlers are created per request,
/// so they must not parse the configuration themselves).
/// </summary>
internal sealed class Credentials(IOptions<ClusterOptions> options)
{
    private SecretList? _member;
    private SecretList? _control;

    public SecretList Member => _member ??= options.Value.MemberSecrets;

    public SecretList Control => _control ??= options.Value.ControlSecrets;
}
