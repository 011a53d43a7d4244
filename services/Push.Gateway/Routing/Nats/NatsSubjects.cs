using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Push.Gateway.Routing.Nats;

/// <summary>
/// The NATS subjects of NATS routing: <c>PREFIX.g.NAME</c> per group, <c>PREFIX.u.NAME</c> per uid and <c>PREFIX.all</c>
/// (every gateway), where NAME is the group or uid's UTF-8 bytes in unpadded base64url (A-Z a-z 0-9 - _: never a '.',
/// '*', '>' or space, so any string is one subject token). A name whose token would exceed
/// <see cref="MaxPlainToken"/> characters is named by its SHA-256 instead (<c>PREFIX.gh.HASH</c> / <c>PREFIX.uh.HASH</c>),
/// which keeps subjects below the server's control-line limit; a collision could only bring a gateway a publication it
/// has no members for (it delivers 0), never lose one.
/// </summary>
internal static class NatsSubjects
{
    /// <summary>Default subject prefix (Cluster:NatsSubjectPrefix): several clusters on one NATS use different prefixes.</summary>
    public const string DefaultPrefix = "push.v1";

    /// <summary>Longest plain (base64url) name token; longer names are hashed.</summary>
    public const int MaxPlainToken = 256;

    public static string Group(string prefix, string name) => Subject(prefix, "g", name);

    public static string Uid(string prefix, string name) => Subject(prefix, "u", name);

    public static string Of(string prefix, InterestKind kind, string name) => kind == InterestKind.Group ? Group(prefix, name) : Uid(prefix, name);

    public static string All(string prefix) => prefix + ".all";

    /// <summary>Whether a prefix is one or more dot-separated tokens of A-Z a-z 0-9 - _ (no wildcards, no spaces).</summary>
    public static bool IsValidPrefix(string? prefix)
    {
        if (string.IsNullOrEmpty(prefix) || prefix.Length > 128)
        {
            return false;
        }
        foreach (var token in prefix.Split('.'))
        {
            if (token.Length == 0 || !token.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The name token alone: unpadded base64url of the UTF-8 bytes, or null when it would be too long.</summary>
    public static string? PlainToken(string name)
    {
        var byteCount = Encoding.UTF8.GetByteCount(name);
        if (Base64Url.GetEncodedLength(byteCount) > MaxPlainToken)
        {
            return null;
        }
        var rented = ArrayPool<byte>.Shared.Rent(byteCount);
        try
        {
            var n = Encoding.UTF8.GetBytes(name, rented);
            return Base64Url.EncodeToString(rented.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Decodes a plain name token (for tools and tests); null when it is not valid base64url UTF-8.</summary>
    public static string? DecodeToken(string token)
    {
        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string Subject(string prefix, string kind, string name)
    {
        if (PlainToken(name) is { } plain)
        {
            return string.Concat(prefix, ".", kind, ".", plain);
        }
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(name));
        return string.Concat(prefix, ".", kind, "h.", Base64Url.EncodeToString(hash));
    }
}
