using System.Net.WebSockets;
using Google.Rpc;
using Grpc.Core;
using Push.Control;
using Push.Testing;

namespace Push.IntegrationTests;

/// <summary>Helpers shared by the control API tests: unique names, bounded polling, status assertions.</summary>
internal static class TestHelpers
{
    /// <summary>A name no other test uses (fixtures are shared by the tests of a class).</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>Polls <paramref name="condition"/> every 20 ms until it holds; fails with <paramref name="what"/> after 10 s.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(TestTimeouts.Short);
        var polls = 0;
        while (!await condition())
        {
            polls++;
            try
            {
                await Task.Delay(20, bounded.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"timed out after {polls} polls waiting until {what}");
            }
        }
    }

    /// <summary>Waits until the gateway(s) of <paramref name="control"/> count exactly <paramref name="expected"/> clients.</summary>
    public static Task WaitForClientCountAsync(PushControlClient control, long expected, CancellationToken ct)
        => WaitUntilAsync(async () => await control.GetAllClientCountAsync(ct) == expected, $"the cluster counts {expected} clients", ct);

    /// <summary>Connects <paramref name="n"/> demo-worker clients (each greeted with its id).</summary>
    public static async Task<TestWebSocket[]> ConnectManyAsync(Uri ws, int n, CancellationToken ct)
    {
        var sockets = new TestWebSocket[n];
        for (var i = 0; i < n; i++)
        {
            sockets[i] = await TestWebSocket.ConnectAsync(ws, cancellationToken: ct);
        }
        return sockets;
    }

    public static async Task DisposeAllAsync(IEnumerable<TestWebSocket> sockets)
    {
        foreach (var s in sockets)
        {
            await s.DisposeAsync();
        }
    }

    /// <summary>
    /// Asserts that nothing was delivered to <paramref name="ws"/>: a marker round trip through the demo worker's echo
    /// comes back with no message ahead of it.
    /// </summary>
    public static async Task AssertReceivedNothingAsync(TestWebSocket ws, CancellationToken ct)
    {
        var before = await ws.DrainUntilEchoAsync(ct);
        Assert.True(before.Count == 0, $"expected nothing, got: {string.Join(" | ", before.Select(m => m.Type == WebSocketMessageType.Text ? m.Text : $"[{m.Data.Length} bytes]"))}");
    }

    /// <summary>Receives one text frame with the expected content.</summary>
    public static async Task AssertTextAsync(TestWebSocket ws, string expected, CancellationToken ct)
    {
        var m = await ws.ReceiveAsync(ct);
        Assert.Equal(WebSocketMessageType.Text, m.Type);
        Assert.Equal(expected, m.Text);
    }

    /// <summary>Receives one binary frame with the expected bytes.</summary>
    public static async Task AssertBinaryAsync(TestWebSocket ws, byte[] expected, CancellationToken ct)
    {
        var m = await ws.ReceiveAsync(ct);
        Assert.Equal(WebSocketMessageType.Binary, m.Type);
        Assert.Equal(expected, m.Data);
    }

    /// <summary>
    /// Runs a call that must fail with <paramref name="code"/> and a google.rpc.ErrorInfo (domain push.v1) whose reason
    /// is <paramref name="reason"/>; with <paramref name="field"/>, the message starts with it and ErrorInfo and
    /// BadRequest name it.
    /// </summary>
    public static async Task<RpcException> AssertRpcErrorAsync(Func<Task> call, StatusCode code, string reason, string? field = null, string? messageContains = null)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(ex.StatusCode == code, $"expected {code}, got {ex.StatusCode}: {ex.Status.Detail}");
        var status = ex.GetRpcStatus();
        Assert.NotNull(status);
        Assert.Equal((int)code, status!.Code);
        var info = status.GetDetail<ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal("push.v1", info!.Domain);
        Assert.Equal(reason, info.Reason);
        if (field is not null)
        {
            Assert.StartsWith(field + ":", ex.Status.Detail, StringComparison.Ordinal);
            Assert.Equal(field, info.Metadata["field"]);
            var bad = status.GetDetail<BadRequest>();
            Assert.NotNull(bad);
            Assert.Contains(bad!.FieldViolations, v => v.Field == field);
        }
        if (messageContains is not null)
        {
            Assert.Contains(messageContains, ex.Status.Detail, StringComparison.Ordinal);
        }
        return ex;
    }

    public const string InvalidField = "ERROR_REASON_INVALID_FIELD";
    public const string ClientNotFound = "ERROR_REASON_CLIENT_NOT_FOUND";
    public const string GatewayGone = "ERROR_REASON_GATEWAY_GONE";
    public const string LimitExceeded = "ERROR_REASON_LIMIT_EXCEEDED";
}
