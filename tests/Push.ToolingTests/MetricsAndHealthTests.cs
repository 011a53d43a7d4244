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
        ("push_gateway_send_queue_bytes", "gauge"),
        ("push_gateway_send_queue_max_bytes", "gauge"),
        ("push_gateway_send_queue_peak_bytes", "gauge"),
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

    [GeneratedRegex(@"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();
}
