using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using Google.Rpc;
using Grpc.Core;
using Push.Testing;

namespace Push.ClusterTests;

/// <summary>Helpers of the cluster tests: bounded polling, signals, metrics, error assertions.</summary>
internal static class Cluster
{
    public const string GatewayGone = "ERROR_REASON_GATEWAY_GONE";
    public const string GatewayUnreachable = "ERROR_REASON_GATEWAY_UNREACHABLE";

    /// <summary>A name no other test uses.</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>Polls <paramref name="condition"/> every 25 ms until it holds; fails after <paramref name="within"/> (10 s by default).</summary>
    public static async Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, Func<string> what, CancellationToken ct, TimeSpan? within = null)
    {
        var sw = Stopwatch.StartNew();
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(within ?? TestTimeouts.Short);
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return sw.Elapsed;
                }
                await Task.Delay(25, bounded.Token);
            }
            catch (Exception ex) when (bounded.IsCancellationRequested && !ct.IsCancellationRequested && ex is OperationCanceledException or RpcException)
            {
                Assert.Fail($"timed out after {sw.Elapsed.TotalSeconds:0.0} s waiting until {what()}");
            }
        }
    }

    public static Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, string what, CancellationToken ct, TimeSpan? within = null)
        => WaitUntilAsync(condition, () => what, ct, within);

    /// <summary>Sends a POSIX signal (STOP, CONT...) to a process.</summary>
    public static void Signal(PushProcess p, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", p.Pid.ToString(CultureInfo.InvariantCulture)]);
        kill!.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Sums the samples of a Prometheus metric on a process's /metrics, optionally only those whose labels contain <paramref name="label"/>.</summary>
    public static async Task<double> MetricAsync(PushProcess p, string name, string? label = null, CancellationToken ct = default)
    {
        var body = await Http.GetStringAsync(new Uri(p.Http!, "/metrics"), ct);
        double sum = 0;
        foreach (var line in body.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal) || (line.Length > name.Length && line[name.Length] is not ('{' or ' ')))
            {
                continue;
            }
            if (label is not null && !line.Contains(label, StringComparison.Ordinal))
            {
                continue;
            }
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // "name{labels} value [timestamp]": the value follows the closing brace (labels may hold spaces).
            var afterLabels = line.LastIndexOf('}') is var brace and > 0 ? line[(brace + 1)..].Trim().Split(' ')[0] : parts[1];
            sum += double.Parse(afterLabels, CultureInfo.InvariantCulture);
        }
        return sum;
    }

    /// <summary>Status code and body of /healthz/ready.</summary>
    public static async Task<(int Code, string Body)> ReadinessAsync(PushProcess p, CancellationToken ct)
    {
        using var r = await Http.GetAsync(new Uri(p.Http!, "/healthz/ready"), ct);
        return ((int)r.StatusCode, await r.Content.ReadAsStringAsync(ct));
    }

    /// <summary>Runs a call that must fail with <paramref name="code"/> and ErrorInfo reason <paramref name="reason"/>; returns the exception.</summary>
    public static async Task<RpcException> AssertRpcErrorAsync(Func<Task> call, StatusCode code, string reason)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(ex.StatusCode == code, $"expected {code}, got {ex.StatusCode}: {ex.Status.Detail}");
        var info = ex.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal(reason, info!.Reason);
        return ex;
    }

    /// <summary>Receives one text frame with the expected content.</summary>
    public static async Task AssertTextAsync(TestWebSocket ws, string expected, CancellationToken ct)
    {
        var m = await ws.ReceiveAsync(ct);
        Assert.Equal(WebSocketMessageType.Text, m.Type);
        Assert.Equal(expected, m.Text);
    }

    /// <summary>A marker round trip through the demo worker's echo comes back with nothing ahead of it.</summary>
    public static async Task AssertReceivedNothingAsync(TestWebSocket ws, CancellationToken ct)
    {
        var before = await ws.DrainUntilEchoAsync(ct);
        Assert.True(before.Count == 0, $"expected nothing, got: {string.Join(" | ", before.Select(m => m.Type == WebSocketMessageType.Text ? m.Text : $"[{m.Data.Length} bytes]"))}");
    }

    public static void AssertOpen(TestWebSocket ws, string name)
    {
        var closed = ws.Closed.IsCompleted ? ws.Closed.Result : default;
        Assert.True(ws.Socket.State == WebSocketState.Open && !ws.Closed.IsCompleted, $"{name} ({ws.ClientId}) is no longer open: {ws.Socket.State} {closed.Status} {closed.Reason}");
    }

    public static async Task DisposeAllAsync(IEnumerable<TestWebSocket> sockets)
    {
        foreach (var s in sockets)
        {
            await s.DisposeAsync();
        }
    }

    /// <summary>
    /// The time of the first log line of <paramref name="p"/> (console format "HH:mm:ss.fff level: ...") at or after
    /// <paramref name="after"/> (local time) that contains <paramref name="text"/>.
    /// </summary>
    public static DateTime? FirstLogAt(PushProcess p, string text, DateTime after)
    {
        foreach (var line in p.Output.Split('\n'))
        {
            if (line.Length > 12 && line.Contains(text, StringComparison.Ordinal)
                && TimeSpan.TryParseExact(line[..12], @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture, out var tod))
            {
                var at = after.Date + tod;
                if (at >= after.AddMilliseconds(-1))
                {
                    return at;
                }
            }
        }
        return null;
    }

    public static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0} ms";
}
