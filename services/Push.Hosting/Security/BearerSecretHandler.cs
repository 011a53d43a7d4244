using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Push.Hosting.Security;

/// <summary>
/// Authenticates "authorization: Bearer SECRET" against the member secrets (role member + control) and the control
/// secrets (role control). It runs in the authentication middleware, before the gRPC endpoint reads the request body,
/// so a refused call costs its headers only. With no secret configured every caller is a member (auth off).
/// </summary>
internal sealed class BearerSecretHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    Credentials credentials) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private static readonly ClaimsPrincipal Member = Principal("member-secret", PushAuth.MemberRole, PushAuth.ControlRole);
    private static readonly ClaimsPrincipal Control = Principal("control-secret", PushAuth.ControlRole);
    private static readonly ClaimsPrincipal Open = Principal("auth-disabled", PushAuth.MemberRole, PushAuth.ControlRole);

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var (member, control) = (credentials.Member, credentials.Control);
        if (member.IsEmpty && control.IsEmpty)
        {
            return Task.FromResult(Success(Open));
        }
        var header = Request.Headers.Authorization;
        if (header.Count == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        if (header.Count > 1)
        {
            return Task.FromResult(Fail("invalid credentials: more than one authorization header was sent"));
        }
        var value = header[0]!;
        const string prefix = "Bearer ";
        if (!value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) || value.Length == prefix.Length)
        {
            return Task.FromResult(Fail("invalid credentials: the authorization header must be 'Bearer <secret>'"));
        }
        var token = value.AsSpan(prefix.Length).Trim();
        Span<byte> bytes = token.Length <= 256 ? stackalloc byte[Encoding.UTF8.GetMaxByteCount(token.Length)] : new byte[Encoding.UTF8.GetMaxByteCount(token.Length)];
        bytes = bytes[..Encoding.UTF8.GetBytes(token, bytes)];
        if (member.Matches(bytes))
        {
            return Task.FromResult(Success(Member));
        }
        if (control.Matches(bytes))
        {
            return Task.FromResult(Success(Control));
        }
        return Task.FromResult(Fail("invalid credentials: the bearer token matches no member secret (Cluster:Secret) and no control secret (Cluster:ControlSecret)"));
    }

    /// <summary>HttpContext.Items key of the failure message (the middleware keeps only successful results).</summary>
    public const string FailureItem = "push.auth.failure";

    private AuthenticateResult Fail(string message)
    {
        Context.Items[FailureItem] = message;
        return AuthenticateResult.Fail(message);
    }

    private static AuthenticateResult Success(ClaimsPrincipal principal) => AuthenticateResult.Success(new AuthenticationTicket(principal, PushAuth.Scheme));

    private static ClaimsPrincipal Principal(string name, params string[] roles)
    {
        var identity = new ClaimsIdentity(PushAuth.Scheme, ClaimTypes.Name, ClaimTypes.Role);
        identity.AddClaim(new Claim(ClaimTypes.Name, name));
        foreach (var r in roles)
        {
            identity.AddClaim(new Claim(ClaimTypes.Role, r));
        }
        return new ClaimsPrincipal(identity);
    }
}
