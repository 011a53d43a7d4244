using System.Globalization;
using System.Security.Cryptography;

namespace Push.Gateway;

/// <summary>
/// Client ids are 40 lower-case hex characters: the owning gateway's 64-bit instance id (16 hex, random per process
/// start) followed by 96 random bits (24 hex) drawn from the OS CSPRNG for each connection. Any gateway routes an id
/// without a lookup (the first 16 characters name the gateway), and an id cannot be guessed from another: knowing
/// your own id tells nothing about your neighbours'. The first 64 of the random bits are the connection's key in its
/// gateway's table; the whole id must match for a lookup to succeed. An id is never reused: a restarted gateway has a
/// new instance id, so a stale id can never reach a different person.
/// </summary>
internal static class ClientId
{
    public const int Length = 40;
    public const int GatewayIdLength = 16;
    private const int KeyLength = 16;

    /// <summary>Formats the id of the connection with table key <paramref name="key"/>, adding 32 more random bits.</summary>
    public static string Format(string gatewayId, long key) => Format(gatewayId, key, NewTag());

    /// <summary>The 32 random bits that follow the key (from the OS CSPRNG).</summary>
    public static uint NewTag()
    {
        Span<byte> tag = stackalloc byte[4];
        RandomNumberGenerator.Fill(tag);
        return BitConverter.ToUInt32(tag);
    }

    /// <summary>Formats the id made of a gateway id, a table key and the 32 bits <paramref name="tag"/>.</summary>
    public static string Format(string gatewayId, long key, uint tag)
        => string.Create(Length, (gatewayId, key, tag), static (span, s) =>
        {
            s.gatewayId.AsSpan().CopyTo(span);
            s.key.TryFormat(span.Slice(GatewayIdLength, KeyLength), out _, "x16", CultureInfo.InvariantCulture);
            s.tag.TryFormat(span[(GatewayIdLength + KeyLength)..], out _, "x8", CultureInfo.InvariantCulture);
        });

    /// <summary>Whether <paramref name="value"/> is exactly the id <see cref="Format(string, long, uint)"/> makes of these parts (without making it).</summary>
    public static bool Matches(string? value, string gatewayId, long key, uint tag)
    {
        if (value is null || value.Length != Length || !value.AsSpan(0, GatewayIdLength).SequenceEqual(gatewayId))
        {
            return false;
        }
        foreach (var c in value.AsSpan(GatewayIdLength))
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        return long.TryParse(value.AsSpan(GatewayIdLength, KeyLength), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var k) && k == key
            && uint.TryParse(value.AsSpan(GatewayIdLength + KeyLength), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var t) && t == tag;
    }

    /// <summary>Parses an id into its gateway id and table key; false when it is not 40 lower-case hex characters.</summary>
    public static bool TryParse(string? value, out string gatewayId, out long key)
    {
        gatewayId = string.Empty;
        key = 0;
        if (value is null || value.Length != Length)
        {
            return false;
        }
        foreach (var c in value)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        if (!long.TryParse(value.AsSpan(GatewayIdLength, KeyLength), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out key))
        {
            return false;
        }
        gatewayId = value[..GatewayIdLength];
        return true;
    }

    public static string Describe(string? value)
        => $"client_id '{value}' is malformed: expected {Length} lower-case hex characters as issued by a gateway (e.g. from the {{\"clientId\":...}} greeting)";
}
