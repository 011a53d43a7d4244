using System.Globalization;

namespace Push.Gateway.WebSockets;

/// <summary>
/// The push.v1 subprotocol offer of a handshake: "push.v1", and when resuming a second token
/// "push.resume.&lt;client_id&gt;.&lt;resume_secret&gt;.&lt;last_seq&gt;" (docs/protocol-push-v1.md).
/// </summary>
internal readonly record struct ResumeToken(string ClientId, string Secret, ulong LastSeq)
{
    public const string Protocol = "push.v1";
    public const string Prefix = "push.resume.";

    /// <summary>Whether the offer names push.v1, and the resume token when there is a well-formed one.</summary>
    public static bool TryRead(string? offer, out ResumeToken? token, out string? malformed)
    {
        token = null;
        malformed = null;
        if (string.IsNullOrEmpty(offer))
        {
            return false;
        }
        var v1 = false;
        foreach (var raw in offer.Split(','))
        {
            var t = raw.Trim();
            if (string.Equals(t, Protocol, StringComparison.Ordinal))
            {
                v1 = true;
            }
            else if (t.StartsWith(Prefix, StringComparison.Ordinal))
            {
                var parts = t[Prefix.Length..].Split('.');
                if (parts.Length != 3 || !Push.Gateway.ClientId.TryParse(parts[0], out _, out _) || parts[1].Length != 32
                    || !parts[1].All(char.IsAsciiHexDigitLower)
                    || !ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
                {
                    malformed = "the push.resume token must be push.resume.<client_id>.<32 hex resume_secret>.<last_seq>";
                    continue;
                }
                token = new ResumeToken(parts[0], parts[1], seq);
            }
        }
        if (!v1)
        {
            token = null;
            malformed = null;
        }
        return v1;
    }
}
