using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Push.Bench.Driver;

/// <summary>A nats-server on free loopback ports (client and monitoring), its log in the work directory.</summary>
public sealed class NatsServer : IDisposable
{
    private static readonly string[] NatsPaths = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

    private readonly Process _process;
    private readonly int _monitorPort;

    private NatsServer(Process process, int port, int monitorPort)
    {
        _process = process;
        _monitorPort = monitorPort;
        Url = $"nats://127.0.0.1:{port}";
    }

    public string Url { get; }

    /// <summary>The nats-server's process id (the cluster scenario reads its CPU time).</summary>
    public int Pid => _process.Id;

    public static (NatsServer? Server, string? Why) TryStart(string work)
    {
        string? exe = NatsPaths.FirstOrDefault(File.Exists);
        if (exe is null)
        {
            return (null, "nats-server not installed (sudo apt-get install -y nats-server)");
        }
        int port = FreePort();
        int monitor = FreePort();
        var info = new ProcessStartInfo(exe) { RedirectStandardInput = true };
        foreach (string a in new[] { "-a", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-m", monitor.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(a);
        }
        var p = Children.Start(info, Path.Combine(work, "nats-server.log"));
        var server = new NatsServer(p, port, monitor);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (p.HasExited)
            {
                return (null, $"nats-server exited with code {p.ExitCode}");
            }
            if (server.Connections() is not null)
            {
                return (server, null);
            }
            Thread.Sleep(100);
        }
        server.Dispose();
        return (null, "nats-server did not answer on its monitoring port within 10 s");
    }

    /// <summary>Client connections the server holds now (from /varz), or null when it does not answer.</summary>
    public int? Connections()
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            string json = http.GetStringAsync(new Uri($"http://127.0.0.1:{_monitorPort}/varz")).GetAwaiter().GetResult();
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.GetProperty("connections").GetInt32();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            return null;
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose() => Children.Kill(_process);
}
