using System.Security.Cryptography;
using System.Text;

namespace Push.Hosting.Security;

/// <summary>
/// The accepted values of one credential (comma-separated in configuration, so a Secret or an environment variable
/// can hold "new,old" during a rotation). The first value is the one this process sends on its own calls.
/// </summary>
internal sealed class SecretList
{
    private readonly byte[][] _accepted;

    private SecretList(string[] values)
    {
        Values = values;
        _accepted = values.Select(v => Encoding.UTF8.GetBytes(v)).ToArray();
    }

    /// <summary>Shortest accepted value: a typo'd or split list ("ab,...") must not leave a guessable secret.</summary>
    public const int MinLength = 16;

    public static SecretList Empty { get; } = new([]);

    /// <summary>Every accepted value, in configuration order.</summary>
    public IReadOnlyList<string> Values { get; }

    public bool IsEmpty => Values.Count == 0;

    /// <summary>The value sent on outgoing calls (the first one), or null.</summary>
    public string? Current => Values.Count > 0 ? Values[0] : null;

    public static SecretList Parse(string? configured)
        => string.IsNullOrWhiteSpace(configured)
            ? Empty
            : new SecretList(configured.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>True when <paramref name="presented"/> equals one of the values (each compared in constant time).</summary>
    public bool Matches(ReadOnlySpan<byte> presented)
    {
        var match = false;
        foreach (var a in _accepted)
        {
            // Every value is compared, so the time taken does not tell which one (or whether any) matched early.
            match |= CryptographicOperations.FixedTimeEquals(a, presented);
        }
        return match;
    }
}
