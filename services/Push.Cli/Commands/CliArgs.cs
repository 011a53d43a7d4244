using System.CommandLine;
using System.CommandLine.Help;

namespace Push.Cli.Commands;

/// <summary>A command line `push` does not accept: one line for stderr, exit code 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);

/// <summary>
/// The parsed command line: a subcommand and the values of its declared flags (<see cref="CliSpec"/>), parsed by
/// System.CommandLine. Unknown flags, subcommands and stray arguments are <see cref="CliUsageException"/>s with a suggestion.
/// </summary>
internal sealed class CliArgs
{
    private readonly Dictionary<string, List<string>> _flags = new(StringComparer.Ordinal);

    /// <summary>The subcommand, or "help" for `push`, `push help` and `push --help`.</summary>
    public string Command { get; private init; } = "help";

    /// <summary>`--help` was given (for the subcommand <see cref="Command"/>).</summary>
    public bool Help { get; private init; }

    /// <summary>A built-in System.CommandLine action to run instead (`--version`, the `[suggest]` completion directive).</summary>
    public ParseResult? BuiltIn { get; private init; }

    public bool Has(string name) => _flags.ContainsKey(name);

    public string? Get(string name) => _flags.TryGetValue(name, out var v) ? v[^1] : null;

    public IReadOnlyList<string> All(string name) => _flags.TryGetValue(name, out var v) ? v : [];

    public static CliArgs Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is "help")
        {
            return new CliArgs { Help = true };
        }
        var root = Build(out var help);
        // No response files (`push send --text @alice` is a text) and no bundling of short options (there are none).
        var result = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null, EnablePosixBundling = false });
        var commandResult = result.CommandResult;
        var command = commandResult.Command is RootCommand ? "help" : commandResult.Command.Name;
        if (result.GetResult(help) is not null)
        {
            return new CliArgs { Command = command, Help = true };
        }
        if (result.Errors.Count > 0)
        {
            throw new CliUsageException(Describe(result, command));
        }
        if (result.Action is not null && commandResult.Command is RootCommand)
        {
            return new CliArgs { BuiltIn = result };
        }
        var parsed = new CliArgs { Command = command };
        foreach (var option in commandResult.Command.Options)
        {
            if (result.GetResult(option) is not { Implicit: false } optionResult)
            {
                continue;
            }
            var name = option.Name[2..];
            if (option is Option<bool> flag)
            {
                if (result.GetValue(flag))
                {
                    parsed.Add(name, "true");
                }
                continue;
            }
            foreach (var token in optionResult.Tokens)
            {
                parsed.Add(name, token.Value);
            }
        }
        return parsed;
    }

    /// <summary>The System.CommandLine tree of <see cref="CliSpec.Commands"/>.</summary>
    internal static RootCommand Build(out HelpOption help)
    {
        var root = new RootCommand("push - Push.Grpc: real-time WebSocket push over gRPC");
        foreach (var spec in CliSpec.Commands)
        {
            var command = new Command(spec.Name, spec.Summary);
            foreach (var flag in spec.Flags)
            {
                Option option = flag switch
                {
                    { Value: null } => new Option<bool>("--" + flag.Name) { Arity = ArgumentArity.Zero },
                    { Repeatable: true } => new Option<string[]>("--" + flag.Name) { Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false },
                    _ => new Option<string>("--" + flag.Name) { Arity = ArgumentArity.ExactlyOne },
                };
                option.Description = flag.Help;
                option.HelpName = flag.Value;
                command.Add(option);
            }
            root.Add(command);
        }
        help = root.Options.OfType<HelpOption>().Single();
        return root;
    }

    private static string Describe(ParseResult result, string command)
    {
        var where = command == "help" ? "push" : $"push {command}";
        var hint = command == "help" ? "see push --help" : $"see push {command} --help";
        if (result.UnmatchedTokens.Count > 0)
        {
            var token = result.UnmatchedTokens[0];
            if (token.StartsWith('-'))
            {
                var spec = CliSpec.Find(command);
                var what = spec is null ? $"unknown flag '{token}' (give a command first, e.g. push start {token})" : $"unknown flag '{token}'";
                return $"{where}: {what}{Suggest.ForFlag(token, spec)}; {hint}";
            }
            if (command == "help")
            {
                return $"push: unknown command '{token}'{Suggest.ForCommand(token)}; {hint}";
            }
            return $"{where}: unexpected argument '{token}' (flags look like --name value){Suggest.ForValue(result, token)}; {hint}";
        }
        var error = result.Errors[0];
        if (error.SymbolResult is System.CommandLine.Parsing.OptionResult { Tokens.Count: 0 } missing)
        {
            return $"{where}: flag {missing.Option.Name} needs a value; {hint}";
        }
        if (error.SymbolResult is System.CommandLine.Parsing.OptionResult { Option: { } single } && single.Arity.MaximumNumberOfValues == 1)
        {
            return $"{where}: flag {single.Name} is given more than once; {hint}";
        }
        return $"{where}: {error.Message.TrimEnd('.')}; {hint}";
    }

    private void Add(string name, string value)
    {
        if (!_flags.TryGetValue(name, out var list))
        {
            _flags[name] = list = [];
        }
        list.Add(value);
    }
}
