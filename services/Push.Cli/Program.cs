using Push.Cli.Commands;
using Push.Cli.Hosting;

CliArgs cli;
try
{
    cli = CliArgs.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"push: {ex.Message}");
    return 2;
}

var roles = cli.Command switch
{
    "start" => PushHost.Roles.Registry | PushHost.Roles.Gateway | PushHost.Roles.Worker,
    "registry" => PushHost.Roles.Registry,
    "gateway" => PushHost.Roles.Gateway,
    "worker" => PushHost.Roles.Worker,
    _ => PushHost.Roles.None,
};

if (cli.Command is "help" or "--help" or "-h")
{
    Console.WriteLine(HelpText.Main);
    return 0;
}
try
{
    switch (cli.Command)
    {
        case "status":
            if (cli.Has("help"))
            {
                Console.WriteLine(HelpText.Status);
                return 0;
            }
            return await ShellCommands.StatusAsync(cli).ConfigureAwait(false);
        case "send":
            if (cli.Has("help"))
            {
                Console.WriteLine(HelpText.Send);
                return 0;
            }
            return await ShellCommands.SendAsync(cli).ConfigureAwait(false);
        case "start" or "registry" or "gateway" or "worker":
            if (cli.Has("help"))
            {
                Console.WriteLine($"Usage: push {cli.Command} [flags]\n");
                Console.WriteLine(HelpText.Roles);
                return 0;
            }
            if (roles is PushHost.Roles.Gateway or PushHost.Roles.Worker && !cli.Has("registry") && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PUSH_REGISTRY")) && !cli.All("set").Any(s => s.StartsWith("Cluster:Registry", StringComparison.OrdinalIgnoreCase)))
            {
                Console.Error.WriteLine($"push {cli.Command}: --registry URL is required (or PUSH_REGISTRY); e.g. push {cli.Command} --registry http://127.0.0.1:1236");
                return 2;
            }
            var app = PushHost.Build(roles, cli);
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        default:
            Console.Error.WriteLine($"push: unknown command '{cli.Command}'\n");
            Console.Error.WriteLine(HelpText.Main);
            return 2;
    }
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"push {cli.Command}: {ex.Message}");
    return 2;
}
catch (InvalidOperationException ex) when (ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
{
    Console.Error.WriteLine($"push {cli.Command}: invalid settings: {ex.Message}");
    return 2;
}
catch (Microsoft.Extensions.Options.OptionsValidationException ex)
{
    Console.Error.WriteLine($"push {cli.Command}: invalid settings: {string.Join("; ", ex.Failures)}");
    return 2;
}
catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException || ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
{
    Console.Error.WriteLine($"push {cli.Command}: cannot listen: {ex.Message} (another process uses the port? pick others with --ws/--grpc/--http/--api)");
    return 1;
}
