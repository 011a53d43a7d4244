using System.Globalization;
using System.Text.RegularExpressions;
using Push.Testing;
using Push.ToolingTests.Infrastructure;
using Xunit.Abstractions;

namespace Push.ToolingTests;

/// <summary>The operational surface: Prometheus /metrics on the internal HTTP port and gRPC health.</summary>
[Collection(PushStartCollection.Name)]
[Trait("Category", "Integration")]
public sealed partial class MetricsAndHealthTests(PushStartFixture fixture, ITestOutputHelper output)
{
    // Names as the OpenTelemetry Prometheus exporter renders the instruments (dots -> underscores, counters get _total).
    private static readonly (string Name, string Type)[] Expected =
    [
        ("push_gateway_connections_active", "gauge"),
        ("push_gateway_messages_sent_total", "counter"),
        ("push_gateway_messages_received_total", "counter"),
        ("push_gateway_pushes_total", "counter"),
        ("push_gateway_push_fanout", "histogram"),
        ("push_gateway_send_queue_dropped_total", "counter"),
        ("push_registry_members", "gauge"),
    ];

    [Fact]
    public async Task Metrics_WhileMessagesFlow_ExposeGatewayAndRegistryInstruments()
    {
        // Arrange: a client that sends (received), gets an echo (sent) and a group push (pushes, fanout).
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        var group = "metrics-" + Guid.NewGuid().ToString("N")[..8];
        await ws.DrainUntilEchoAsync(ct);
        await fixture.Control.JoinGroupAsync(ws.ClientId, group, ct);
        Assert.Equal(1, await fixture.Control.SendToGroupAsync(group, "metered", ct));
        Assert.Equal("metered", await ws.ReceiveTextAsync(ct));

        // Act
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var body = await http.GetStringAsync(new Uri(fixture.Suite.Http!, "/metrics"), ct);

        // Assert
        var types = TypeLine().Matches(body).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
        foreach (var (name, type) in Expected)
        {
            Assert.True(types.TryGetValue(name, out var actual), $"/metrics has no {name}; push_* instruments present: {string.Join(", ", types.Keys.Where(k => k.StartsWith("push_", StringComparison.Ordinal)))}");
            Assert.Equal(type, actual);
        }
        output.WriteLine(string.Join('\n', body.Split('\n').Where(l => l.StartsWith("push_gateway_messages", StringComparison.Ordinal) || l.StartsWith("push_gateway_connections_active", StringComparison.Ordinal) || l.StartsWith("push_gateway_send_queue_dropped", StringComparison.Ordinal) || l.StartsWith("push_registry_members", StringComparison.Ordinal) || l.StartsWith("push_gateway_pushes", StringComparison.Ordinal))));
        Assert.True(Sum(body, "push_gateway_connections_active") >= 1);
        Assert.True(Sum(body, "push_gateway_messages_received_total") >= 1);
        Assert.True(Sum(body, "push_gateway_messages_sent_total") >= 3); // greeting, echo, push
        Assert.True(Sum(body, "push_gateway_pushes_total") >= 1);
        Assert.True(Sum(body, "push_gateway_push_fanout_count") >= 1);
        Assert.True(Sum(body, "push_registry_members") >= 2); // the gateway and the worker of `push start`
    }

    [Fact]
    public async Task Metrics_AfterPushes_DurationHistogramsHaveSecondBuckets_AndServiceName()
    {
        // Arrange: pushes of two kinds to one client (the client's echo round trip also runs a worker callback).
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Suite.Ws, cancellationToken: ct);
        await ws.DrainUntilEchoAsync(ct);
        const int pushes = 5;
        for (var i = 0; i < pushes; i++)
        {
            Assert.Equal(1, await fixture.Control.SendToClientAsync(ws.ClientId, "timed", ct));
            Assert.Equal(1, await fixture.Control.SendToClientsAsync([ws.ClientId], "timed", cancellationToken: ct));
        }
        for (var i = 0; i < 2 * pushes; i++)
        {
            Assert.Equal("timed", await ws.ReceiveTextAsync(ct));
        }

        // Act
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var body = await http.GetStringAsync(new Uri(fixture.Suite.Http!, "/metrics"), ct);

        // Assert: the boundaries are seconds (100 µs ... 10 s), and loopback pushes land below 100 ms, not all in le="5"
        // as when seconds were recorded into the default millisecond boundaries.
        output.WriteLine(string.Join('\n', body.Split('\n').Where(l => l.StartsWith("push_gateway_push_duration_seconds_bucket", StringComparison.Ordinal) && l.Contains("push_target=\"client", StringComparison.Ordinal))));
        foreach (var target in new[] { "client", "clients" })
        {
            var buckets = Buckets(body, "push_gateway_push_duration_seconds", $"push_target=\"{target}\"");
            Assert.Equal(["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"], buckets.Keys);
            Assert.True(buckets["+Inf"] >= pushes, $"{target}: {buckets["+Inf"]} observations, expected at least {pushes}");
            Assert.True(buckets["0.1"] > 0, $"{target}: no push under 100 ms of {buckets["+Inf"]}");
        }
        var callbacks = Buckets(body, "push_worker_callback_duration_seconds", "push_event=\"message\"");
        Assert.True(callbacks["0.1"] > 0, $"no worker message callback under 100 ms of {callbacks["+Inf"]}");
        Assert.Matches(@"target_info\{[^}]*service_name=""push""[,}]", body); // `push start` runs every role
    }

    [Fact]
    public async Task GrpcHealth_BufCurlCheck_Serving()
    {
        // Act
        var r = await BufCurl.CallAsync(fixture.Suite.GrpcAddress, "grpc.health.v1.Health/Check", "{}");

        // Assert
        output.WriteLine(r.StandardOutput);
        Assert.True(r.ExitCode == 0, r.Describe("grpc.health.v1.Health/Check"));
        Assert.Contains("\"SERVING\"", r.StandardOutput, StringComparison.Ordinal);
    }

    /// <summary>Sum of the sample values of one metric over all its label sets ("name{labels} value [timestamp]").</summary>
    private static double Sum(string body, string metric)
    {
        double sum = 0;
        foreach (var line in body.Split('\n'))
        {
            if (!line.StartsWith(metric, StringComparison.Ordinal) || line.Length <= metric.Length || (line[metric.Length] != '{' && line[metric.Length] != ' '))
            {
                continue;
            }
            var afterLabels = line[(line[metric.Length] == '{' ? line.LastIndexOf('}') + 1 : metric.Length)..].Trim().Split(' ');
            sum += double.Parse(afterLabels[0], CultureInfo.InvariantCulture);
        }
        return sum;
    }

    /// <summary>Cumulative bucket counts of one histogram, by `le`, summed over the label sets that contain <paramref name="labels"/>.</summary>
    private static Dictionary<string, double> Buckets(string body, string histogram, string labels)
    {
        var buckets = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (Match m in BucketLine().Matches(body))
        {
            if (m.Groups[1].Value == histogram && m.Groups[2].Value.Contains(labels, StringComparison.Ordinal))
            {
                var le = m.Groups[3].Value;
                buckets[le] = buckets.GetValueOrDefault(le) + double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture);
            }
        }
        Assert.True(buckets.Count > 0, $"/metrics has no {histogram}_bucket with {labels}");
        return buckets;
    }

    [GeneratedRegex(@"^(\S+)_bucket\{(.*),le=""([^""]+)""\} (\S+)", RegexOptions.Multiline)]
    private static partial Regex BucketLine();

    [GeneratedRegex(@"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();
}
