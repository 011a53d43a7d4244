using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Diagnostics.Tracing;
using System.Text.Json;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace Push.Bench.Driver;

/// <summary>Every child process the driver started; all are killed on exit, even on failure.</summary>
public static class Children
{
    private static readonly ConcurrentDictionary<int, Process> Started = new();
    private static int _hooked;

    public static Process Start(ProcessStartInfo info, string? logFile)
    {
        if (Interlocked.Exchange(ref _hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
            AppDomain.CurrentDomain.UnhandledException += (_, _) => KillAll();
            Console.CancelKeyPress += (_, _) => KillAll();
        }
        info.UseShellExecute = false;
        info.RedirectStandardOutput = logFile is not null || info.RedirectStandardOutput;
        info.RedirectStandardError = logFile is not null;
        var p = Process.Start(info) ?? throw new InvalidOperationException("could not start " + info.FileName);
        Started[p.Id] = p;
        if (logFile is not null)
        {
            var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
            var gate = new Lock();
            void Write(string? line)
            {
                if (line is null)
                {
                    return;
                }
                lock (gate)
                {
                    try
                    {
                        log.WriteLine(line);
                    }
                    catch (ObjectDisposedException)
                    {
                    }
                }
            }
            p.OutputDataReceived += (_, e) => Write(e.Data);
            p.ErrorDataReceived += (_, e) => Write(e.Data);
            p.EnableRaisingEvents = true;
            p.Exited += (_, _) =>
            {
                // Give the readers a moment to flush the last lines.
                Task.Delay(500).ContinueWith(_ => { lock (gate) { log.Dispose(); } }, TaskScheduler.Default);
            };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
        }
        return p;
    }

    public static void Kill(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
        Started.TryRemove(p.Id, out _);
    }

    public static void KillAll()
    {
        foreach (var p in Started.Values)
        {
            Kill(p);
        }
    }

    /// <summary>How to start this same program with other arguments.</summary>
    public static ProcessStartInfo Self(IEnumerable<string> args)
    {
        string exe = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo();
        if (Path.GetFileNameWithoutExtension(exe).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            info.FileName = exe;
            info.ArgumentList.Add(typeof(Children).Assembly.Location);
        }
        else
        {
            info.FileName = exe;
        }
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }
        return info;
    }
}

/// <summary>A server under test, started fresh in its own process.</summary>
public sealed class ServerProcess : IDisposable
{
    private ServerProcess(string name, Process process, string logFile, Uri ws, Uri grpc, int pid, Uri? http)
    {
        Http = http;
        Name = name;
        Process = process;
        LogFile = logFile;
        Ws = ws;
        Grpc = grpc;
        Pid = pid;
    }

    public string Name { get; }

    public Process Process { get; }

    public string LogFile { get; }

    public Uri Ws { get; }

    public Uri Grpc { get; }

    /// <summary>The internal HTTP endpoint (/metrics) when the ready file names one (the suite).</summary>
    public Uri? Http { get; }

    /// <summary>The process whose memory and CPU are measured (from the ready file).</summary>
    public int Pid { get; }

    public IPEndPoint WsEndPoint => new(IPAddress.Parse(Ws.Host), Ws.Port);

    public static async Task<ServerProcess> StartAsync(string name, ProcessStartInfo info, string readyFile, string logFile, TimeSpan timeout)
    {
        File.Delete(readyFile);
        info.RedirectStandardInput = true; // the baseline exits when this closes
        var p = Children.Start(info, logFile);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with code {p.ExitCode} before it was ready; log: {logFile}\n{Tail(logFile)}");
            }
            if (File.Exists(readyFile))
            {
                try
                {
                    using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(readyFile).ConfigureAwait(false));
                    var root = doc.RootElement;
                    var ws = new Uri(root.GetProperty("ws").GetString()!);
                    var grpc = new Uri(root.GetProperty("grpc").GetString()!);
                    int pid = root.TryGetProperty("pid", out var pidEl) ? pidEl.GetInt32() : p.Id;
                    Uri? http = root.TryGetProperty("http", out var httpEl) && httpEl.GetString() is { Length: > 0 } h ? new Uri(h) : null;
                    return new ServerProcess(name, p, logFile, ws, grpc, pid, http);
                }
                catch (Exception ex) when (ex is JsonException or IOException or KeyNotFoundException or UriFormatException)
                {
                    // written partially: read it again
                }
            }
            await Task.Delay(50).ConfigureAwait(false);
        }
        Children.Kill(p);
        throw new TimeoutException($"{name} was not ready within {timeout.TotalSeconds:0} s; log: {logFile}\n{Tail(logFile)}");
    }

    public static string Tail(string file, int lines = 15)
    {
        try
        {
            var all = File.ReadAllLines(file);
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    public void Dispose()
    {
        try
        {
            Process.StandardInput.Close();
            if (!Process.WaitForExit(3000))
            {
                Children.Kill(Process);
            }
        }
        catch (InvalidOperationException)
        {
        }
        Children.Kill(Process);
    }
}

/// <summary>Memory and CPU of a process, read from /proc.</summary>
public static class ProcStats
{
    /// <summary>Resident set size in KiB (VmRSS).</summary>
    public static long RssKb(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    /// <summary>User + system CPU time of the whole process (all threads), in milliseconds.</summary>
    public static double CpuMs(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name, which is in parentheses and may hold spaces.
        var fields = stat.Substring(stat.LastIndexOf(')') + 2).Split(' ');
        long utime = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture);
        long stime = long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        return (utime + stime) * 10.0; // USER_HZ is 100 on Linux
    }

    /// <summary>
    /// Asks the runtime of process <paramref name="pid"/> for a full blocking GC, the way
    /// dotnet-gcdump does: an EventPipe session enabling the runtime provider's GCHeapCollect
    /// keyword. Returns the bytes that survived that gen2 GC (the live managed heap, from its
    /// GCHeapStats event), or null when the process has no diagnostics port or no event came.
    /// </summary>
    public static async Task<long?> InduceGcAsync(int pid, Action<string>? describe = null)
    {
        try
        {
            var client = new DiagnosticsClient(pid);
            const long GcKeyword = 0x1;
            const long GcHeapCollectKeyword = 0x800000;
            var providers = new[] { new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, GcKeyword | GcHeapCollectKeyword) };
            using var session = await client.StartEventPipeSessionAsync(providers, requestRundown: false, circularBufferMB: 16, CancellationToken.None).ConfigureAwait(false);
            var live = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            var processing = Task.Run(() =>
            {
                try
                {
                    using var source = new EventPipeEventSource(session.EventStream);
                    bool gen2 = false;
                    source.Clr.GCStart += d => gen2 |= d.Depth == 2;
                    source.Clr.GCHeapStats += d =>
                    {
                        if (gen2)
                        {
                            describe?.Invoke($"gen0 {d.GenerationSize0} gen1 {d.GenerationSize1} gen2 {d.GenerationSize2} loh {d.GenerationSize3} poh {d.GenerationSize4}; survived gen2 {d.TotalPromotedSize2} loh {d.TotalPromotedSize3} poh {d.TotalPromotedSize4}; pinned {d.PinnedObjectCount} handles {d.GCHandleCount} syncblocks {d.SinkBlockCount}");
                            live.TrySetResult(d.TotalPromotedSize0 + d.TotalPromotedSize1 + d.TotalPromotedSize2 + d.TotalPromotedSize3 + d.TotalPromotedSize4);
                        }
                    };
                    source.Process();
                }
                catch (Exception ex) when (ex is IOException or EndOfStreamException or ObjectDisposedException or InvalidOperationException or FormatException)
                {
                }
            });
            await Task.WhenAny(live.Task, Task.Delay(5000)).ConfigureAwait(false);
            await session.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await Task.WhenAny(processing, Task.Delay(3000)).ConfigureAwait(false);
            return live.Task.IsCompletedSuccessfully ? live.Task.Result : null;
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or UnsupportedCommandException or ServerErrorException or IOException or TimeoutException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Waits until the RSS stops moving (two readings 500 ms apart within 0.5%), at most <paramref name="max"/>.</summary>
    public static async Task<long> SettledRssKb(int pid, TimeSpan max)
    {
        var sw = Stopwatch.StartNew();
        await Task.Delay(400).ConfigureAwait(false);
        long last = RssKb(pid);
        while (sw.Elapsed < max)
        {
            await Task.Delay(500).ConfigureAwait(false);
            long now = RssKb(pid);
            if (Math.Abs(now - last) <= last / 200)
            {
                return now;
            }
            last = now;
        }
        return last;
    }
}
