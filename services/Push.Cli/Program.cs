using Push.Cli.Commands;
using Push.Cli.Hosting;

CliArgs cli;
try
{
    cli = CliArgs.Parse(args);
}
catch (CliUsageException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}
if (cli.BuiltIn is { } builtIn)
{
    return await builtIn.InvokeAsync().ConfigureAwait(false); // --version, [suggest] (shell completion)
}
if (cli.Help)
{
    Console.WriteLine(CliSpec.Find(cli.Command) is { } spec ? HelpText.For(spec) : HelpText.Main);
    return 0;
}

var roles = cli.Command switch
{
    "start" when cli.Has("no-demo-worker") => PushHost.Roles.Registry | PushHost.Roles.Gateway,
    "start" => PushHost.Roles.Registry | PushHost.Roles.Gateway | PushHost.Roles.Worker,
    "registry" => PushHost.Roles.Registry,
    "gateway" => PushHost.Roles.Gateway,
    "worker" => PushHost.Roles.Worker,
    _ => PushHost.Roles.None,
};
try
{
    switch (cli.Command)
    {
        case "status":
            return await ShellCommands.StatusAsync(cli).ConfigureAwait(false);
        case "send":
            return await ShellCommands.SendAsync(cli).ConfigureAwait(false);
        default:
            if (roles is PushHost.Roles.Gateway or PushHost.Roles.Worker && !cli.Has("registry") && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PUSH_REGISTRY")) && !cli.All("set").Any(s => s.StartsWith("Cluster:Registry", StringComparison.OrdinalIgnoreCase)))
            {
                Console.Error.WriteLine($"push {cli.Command}: --registry URL is required (or PUSH_REGISTRY); e.g. push {cli.Command} --registry http://127.0.0.1:1236");
                return 2;
            }
            var app = PushHost.Build(roles, cli);
            if (cli.Has("check"))
            {
                Console.WriteLine($"push {cli.Command}: configuration OK: {PushHost.Check(app)}");
                return 0;
            }
            await app.RunAsync().ConfigureAwait(false);
            return 0;
    }
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"push {cli.Command}: {ex.Message}");
    return 2;
}
catch (InvalidOperationException ex) when (ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
{
    Console.Error.WriteLine($"push {cli.Command}: invalid settings: {ex.Message} (see push {cli.Command} --help, Settings)");
    return 2;
}
catch (Microsoft.Extensions.Options.OptionsValidationException ex)
{
    Console.Error.WriteLine($"push {cli.Command}: invalid settings: {string.Join("; ", ex.Failures)}");
    return 2;
}
catch (AggregateException ex) when (ex.InnerExceptions.All(e => e is Microsoft.Extensions.Options.OptionsValidationException))
{
    // several option classes invalid at once (the start-up validator throws them together)
    Console.Error.WriteLine($"push {cli.Command}: invalid settings: {string.Join("; ", ex.InnerExceptions.SelectMany(e => ((Microsoft.Extensions.Options.OptionsValidationException)e).Failures))}");
    return 2;
}
catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException || ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
{
    Console.Error.WriteLine($"push {cli.Command}: cannot listen: {ex.Message} (another process uses the port? pick others with --ws/--grpc/--http/--api)");
    return 1;
}
