using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Push.Testing;

/// <summary>
/// A real nats-server process (Debian's nats-server, installed by .ci/setup) on a 127.0.0.x address with OS-chosen
/// ports (-p -1). Started when it logs "Server is ready" with its client port (and, in a cluster, its route port);
/// killed (-9) when disposed. <see cref="StartClusterAsync"/> starts a 3-node cluster whose routes are all connected.
/// </summary>
public sealed partial class NatsServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(Regex Pattern, int Count, TaskCompletionSource<Match> Seen)> _waiters = [];

    private NatsServer(Process process, string host, string name)
    {
        _process = process;
        Host = host;
        Name = name;
    }

    public string Host { get; }

    public string Name { get; }

    public int Port { get; private set; }

    /// <summary>Route (cluster) port, 0 when not clustered.</summary>
    public int ClusterPort { get; private set; }

    /// <summary>HTTP monitoring port (/varz, /routez, /subsz).</summary>
    public int MonitorPort { get; private set; }

    public string Url => $"nats://{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    public string RouteUrl => $"nats://{Host}:{ClusterPort.ToString(CultureInfo.InvariantCulture)}";

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get { lock (_output) { return _output.ToString(); } }
    }

    /// <summary>Whether nats-server is on the PATH (or /usr/sbin).</summary>
    public static string? Executable()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Append("/usr/sbin").Append("/usr/bin"))
        {
            var path = Path.Combine(dir, "nats-server");
            if (dir.Length > 0 && File.Exists(path))
            {
                return path;
            }
        }
        return null;
    }

    /// <summary>Starts one server; with <paramref name="clusterName"/> it also listens for routes and joins <paramref name="routes"/>.</summary>
    public static async Task<NatsServer> StartAsync(string host = "127.0.0.1", string? name = null, string? clusterName = null, IEnumerable<string>? routes = null, int clusterPort = -1, CancellationToken cancellationToken = default)
    {
        var exe = Executable() ?? throw new InvalidOperationException("nats-server is not installed (apt-get install nats-server; .ci/setup installs it)");
        name ??= "nats-" + host;
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-a", host, "-p", "-1", "-n", name, "-m", "-1" })
        {
            psi.ArgumentList.Add(a);
        }
        if (clusterName is not null)
        {
            psi.ArgumentList.Add("--cluster_name");
            psi.ArgumentList.Add(clusterName);
            psi.ArgumentList.Add("--cluster");
            psi.ArgumentList.Add($"nats://{host}:{clusterPort.ToString(CultureInfo.InvariantCulture)}");
            if (clusterPort > 0)
            {
                // Without it the others learn this route as 127.0.0.1:PORT (the source address of its connections).
                psi.ArgumentList.Add("--cluster_advertise");
                psi.ArgumentList.Add($"{host}:{clusterPort.ToString(CultureInfo.InvariantCulture)}");
            }
            var list = (routes ?? []).ToList();
            if (list.Count > 0)
            {
                psi.ArgumentList.Add("--routes");
                psi.ArgumentList.Add(string.Join(',', list));
            }
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start nats-server");
        var s = new NatsServer(process, host, name);
        process.OutputDataReceived += (_, e) => s.Append(e.Data);
        process.ErrorDataReceived += (_, e) => s.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(TimeSpan.FromSeconds(20));
            var port = s.WaitForLogAsync(ClientPortLine(), 1, bounded.Token);
            var route = clusterName is null ? null : s.WaitForLogAsync(RoutePortLine(), 1, bounded.Token);
            var monitor = s.WaitForLogAsync(MonitorPortLine(), 1, bounded.Token);
            await s.WaitForLogAsync(ReadyLine(), 1, bounded.Token).ConfigureAwait(false);
            s.Port = int.Parse((await port.ConfigureAwait(false)).Groups[1].Value, CultureInfo.InvariantCulture);
            s.MonitorPort = int.Parse((await monitor.ConfigureAwait(false)).Groups[1].Value, CultureInfo.InvariantCulture);
            if (route is not null)
            {
                s.ClusterPort = int.Parse((await route.ConfigureAwait(false)).Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
            var output = s.Output;
            await s.DisposeAsync().ConfigureAwait(false);
            throw new TimeoutException($"nats-server on {host} did not get ready within 20 s:\n{output}");
        }
        return s;
    }

    /// <summary>
    /// Three servers on 127.0.0.{first}..{first+2}, one cluster, each with explicit routes to the two others (route
    /// ports chosen free beforehand, advertised as host:port); returns once every server logs two route connections.
    /// </summary>
    public static async Task<NatsServer[]> StartClusterAsync(int first = 31, CancellationToken cancellationToken = default)
    {
        var cluster = "push-test-" + Guid.NewGuid().ToString("N")[..8];
        var nodes = new List<NatsServer>();
        try
        {
            var hosts = Enumerable.Range(first, 3).Select(i => $"127.0.0.{i}").ToArray();
            var ports = hosts.Select(FreePort).ToArray();
            for (var i = 0; i < 3; i++)
            {
                var others = Enumerable.Range(0, 3).Where(j => j != i).Select(j => $"nats://{hosts[j]}:{ports[j].ToString(CultureInfo.InvariantCulture)}");
                nodes.Add(await StartAsync(hosts[i], $"n{i + 1}", cluster, others, ports[i], cancellationToken).ConfigureAwait(false));
            }
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(TimeSpan.FromSeconds(20));
            foreach (var n in nodes)
            {
                while (await n.RouteCountAsync(bounded.Token).ConfigureAwait(false) < 2)
                {
                    await Task.Delay(25, bounded.Token).ConfigureAwait(false);
                }
            }
            return [.. nodes];
        }
        catch
        {
            foreach (var n in nodes)
            {
                await n.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Routes connected now (/routez num_routes).</summary>
    public async Task<int> RouteCountAsync(CancellationToken ct)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await Http.GetStringAsync(new Uri($"http://{Host}:{MonitorPort.ToString(CultureInfo.InvariantCulture)}/routez"), ct).ConfigureAwait(false));
        return doc.RootElement.GetProperty("num_routes").GetInt32();
    }

    /// <summary>Subscriptions the server holds now (/subsz num_subscriptions), e.g. to see a gateway's interest arrive.</summary>
    public async Task<int> SubscriptionCountAsync(CancellationToken ct)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await Http.GetStringAsync(new Uri($"http://{Host}:{MonitorPort.ToString(CultureInfo.InvariantCulture)}/subsz"), ct).ConfigureAwait(false));
        return doc.RootElement.GetProperty("num_subscriptions").GetInt32();
    }

    private static int FreePort(string host)
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Parse(host), 0);
        l.Start();
        var port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>Completes when the log has <paramref name="count"/> lines matching <paramref name="pattern"/>; returns the last match.</summary>
    public Task<Match> WaitForLogAsync(Regex pattern, int count, CancellationToken ct)
    {
        lock (_output)
        {
            var matches = pattern.Matches(_output.ToString());
            if (matches.Count >= count)
            {
                return Task.FromResult(matches[count - 1]);
            }
            var seen = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((pattern, count - matches.Count, seen));
            return seen.Task.WaitAsync(ct);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                var (pattern, left, seen) = _waiters[i];
                if (pattern.Match(line) is { Success: true } m)
                {
                    if (left <= 1)
                    {
                        seen.TrySetResult(m);
                        _waiters.RemoveAt(i);
                    }
                    else
                    {
                        _waiters[i] = (pattern, left - 1, seen);
                    }
                }
            }
        }
    }

    /// <summary>kill -9: clients see the connection drop at once.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            Kill();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"Listening for client connections on [^\s]+:(\d+)")]
    private static partial Regex ClientPortLine();

    [GeneratedRegex(@"Listening for route connections on [^\s]+:(\d+)")]
    private static partial Regex RoutePortLine();

    [GeneratedRegex(@"Server is ready")]
    private static partial Regex ReadyLine();

    [GeneratedRegex(@"Starting http monitor on [^\s]+:(\d+)")]
    private static partial Regex MonitorPortLine();
}
