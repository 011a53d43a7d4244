namespace Push.Cli.Commands;

/// <summary>Parsed command line: a subcommand, flags (--name value, repeatable) and switches.</summary>
internal sealed class CliArgs
{
    private static readonly HashSet<string> Switches = new(StringComparer.Ordinal) { "help", "json", "binary", "all" };

    public string Command { get; private init; } = "help";
    public Dictionary<string, List<string>> Flags { get; } = new(StringComparer.Ordinal);

    public bool Has(string name) => Flags.ContainsKey(name);

    public string? Get(string name) => Flags.TryGetValue(name, out var v) ? v[^1] : null;

    public IReadOnlyList<string> All(string name) => Flags.TryGetValue(name, out var v) ? v : [];

    public static CliArgs Parse(string[] args)
    {
        var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "help";
        var result = new CliArgs { Command = command };
        for (var i = command == "help" && (args.Length == 0 || args[0].StartsWith('-')) ? 0 : 1; i < args.Length; i++)
        {
            var a = args[i];
            if (a is "-h" or "--help")
            {
                result.Add("help", "true");
                continue;
            }
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{a}' (flags look like --name value; see push {command} --help)");
            }
            var name = a[2..];
            var eq = name.IndexOf('=');
            if (eq > 0)
            {
                result.Add(name[..eq], name[(eq + 1)..]);
            }
            else if (Switches.Contains(name))
            {
                result.Add(name, "true");
            }
            else
            {
                if (i + 1 >= args.Length)
                {
                    throw new ArgumentException($"flag --{name} needs a value");
                }
                result.Add(name, args[++i]);
            }
        }
        return result;
    }

    private void Add(string name, string value)
    {
        if (!Flags.TryGetValue(name, out var list))
        {
            Flags[name] = list = [];
        }
        list.Add(value);
    }
}
