using System.Globalization;

namespace Push.Gateway;

/// <summary>
/// Client ids are 28 lower-case hex characters: the owning gateway's 64-bit instance id (16 hex, random per process start)
/// followed by a 48-bit connection sequence number (12 hex). Any gateway routes an id without a lookup, and an id is never
/// reused: a restarted gateway has a new instance id, so a stale id can never reach a different person.
/// </summary>
internal static class ClientId
{
    public const int Length = 28;
    public const int GatewayIdLength = 16;

    public static string Format(string gatewayId, long sequence)
        => string.Create(Length, (gatewayId, sequence), static (span, s) =>
        {
            s.gatewayId.AsSpan().CopyTo(span);
            s.sequence.TryFormat(span[GatewayIdLength..], out _, "x12", CultureInfo.InvariantCulture);
        });

    /// <summary>Parses an id; false when it is not 28 lower-case hex characters.</summary>
    public static bool TryParse(string? value, out string gatewayId, out long sequence)
    {
        gatewayId = string.Empty;
        sequence = 0;
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
        if (!long.TryParse(value.AsSpan(GatewayIdLength), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out sequence))
        {
            return false;
        }
        gatewayId = value[..GatewayIdLength];
        return true;
    }

    public static string Describe(string? value)
        => $"client_id '{value}' is malformed: expected {Length} lower-case hex characters as issued by a gateway (e.g. from the {{\"clientId\":...}} greeting)";
}
