using Microsoft.IdentityModel.Tokens;

namespace Push.Gateway.Tokens;

/// <summary>One key that can sign handshake tokens, with the only algorithm it validates and its "kid" (JWKS keys).</summary>
internal sealed record TokenKey(SecurityKey Key, string Algorithm, string? KeyId, string Source);
