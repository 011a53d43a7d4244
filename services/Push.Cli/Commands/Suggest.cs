using System.CommandLine;
using System.Text.RegularExpressions;

namespace Push.Cli.Commands;

/// <summary>"did you mean ...?" for a mistyped flag, command or setting.</summary>
internal static partial class Suggest
{
    /// <summary>The setting keys listed in the help (Gateway:PingInterval, ...): `--pingInterval 5` suggests `--set Gateway:PingInterval=5`.</summary>
    private static readonly Lazy<string[]> SettingKeys = new(() => SettingKey().Matches(HelpText.Settings).Select(m => m.Value.TrimEnd(':')).Distinct(StringComparer.Ordinal).ToArray());

    public static string ForFlag(string token, CommandSpec? spec)
    {
        var name = token.TrimStart('-');
        var eq = name.IndexOfAny(['=', ':']);
        var bare = eq > 0 ? name[..eq] : name;
        var flags = spec?.Flags.Select(f => f.Name) ?? CliSpec.Commands.SelectMany(c => c.Flags).Select(f => f.Name).Distinct(StringComparer.Ordinal);
        if (Closest(bare, flags) is { } flag)
        {
            return $" (did you mean --{flag}?)";
        }
        var plain = bare.Replace("-", string.Empty, StringComparison.Ordinal);
        var setting = SettingKeys.Value.FirstOrDefault(k => string.Equals(k[(k.LastIndexOf(':') + 1)..], plain, StringComparison.OrdinalIgnoreCase))
            ?? SettingKeys.Value.FirstOrDefault(k => string.Equals(k.Replace(":", string.Empty, StringComparison.Ordinal), plain, StringComparison.OrdinalIgnoreCase));
        return setting is null ? string.Empty : $" (settings are given with --set: did you mean --set {setting}=VALUE?)";
    }

    public static string ForCommand(string token)
        => Closest(token, CliSpec.Commands.Select(c => c.Name)) is { } command ? $" (did you mean {command}?)" : string.Empty;

    public static string ForValue(ParseResult result, string token)
        => token.Contains('=', StringComparison.Ordinal) && token.Contains(':', StringComparison.Ordinal) && result.CommandResult.Command.Options.Any(o => o.Name == "--set")
            ? $" (did you mean --set {token}?)"
            : string.Empty;

    /// <summary>The candidate nearest to <paramref name="word"/> (optimal string alignment distance, prefixes count), if near enough.</summary>
    internal static string? Closest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var c in candidates)
        {
            var d = c.StartsWith(word, StringComparison.OrdinalIgnoreCase) && word.Length >= 3 ? 1 : Distance(word.ToLowerInvariant(), c);
            if (d < bestDistance)
            {
                (best, bestDistance) = (c, d);
            }
        }
        return best is not null && bestDistance <= Math.Max(1, Math.Min(word.Length, best.Length) / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }

    [GeneratedRegex(@"\b(?:Gateway|Cluster|Worker)(?::[A-Z][A-Za-z]+)+")]
    private static partial Regex SettingKey();
}
