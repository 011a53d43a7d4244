using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Push.Control;
using Push.Testing;
using Push.Worker;
using Xunit.Abstractions;

namespace Push.HardeningTests;

/// <summary>What the test worker saw, per client id.</summary>
public sealed class AuthRecorder
{
    public ConcurrentDictionary<string, string> Connects { get; } = new();
    public ConcurrentDictionary<string, string?> UidsAtConnect { get; } = new();
    public ConcurrentQueue<string> Messages { get; } = new();
    public ConcurrentDictionary<string, string> Closes { get; } = new();
    public TaskCompletionSource ReleaseSlow { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource<string> SlowEntered { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// A worker that decides handshakes: uid "banned" → 403; ?auth=bad → 401 (after trying to join a group, set a session
/// and send, all of which must be discarded); ?auth=throw → the callback throws; ?auth=slow → waits for the test;
/// anything else is accepted, greeted, put in group "members" and given a session.
/// </summary>
public sealed class AuthDecidingEvents(AuthRecorder recorder) : BusinessEvents
{
    public override async ValueTask OnWebSocketConnectAsync(ClientContext client, Handshake handshake)
    {
        var auth = handshake.Query.TryGetValue("auth", out var a) ? a : string.Empty;
        recorder.Connects[client.ClientId] = auth;
        recorder.UidsAtConnect[client.ClientId] = client.Uid;
        switch (auth)
        {
            case "bad":
                client.JoinGroup("members");
                client.Session["leaked"] = "yes";
                client.SendToCurrentClient("you should never see this");
                client.RejectHandshake(401, "bad credentials");
                return;
            case "throw":
                throw new InvalidOperationException("authorization backend down");
            case "slow":
                recorder.SlowEntered.TrySetResult(client.ClientId);
                await recorder.ReleaseSlow.Task.ConfigureAwait(false);
                break;
            default:
                break;
        }
        if (client.Uid == "banned")
        {
            client.RejectHandshake();
            return;
        }
        client.SendToCurrentClient("{\"clientId\":\"" + client.ClientId + "\"}");
        client.JoinGroup("members");
        client.Session["auth"] = auth;
    }

    public override ValueTask OnMessageAsync(ClientContext client, ClientMessage message)
    {
        recorder.Messages.Enqueue(client.ClientId);
        client.SendToCurrentClient(message.Text ?? string.Empty);
        return ValueTask.CompletedTask;
    }

    public override ValueTask OnCloseAsync(ClientContext client, int code, string reason)
    {
        recorder.Closes[client.ClientId] = $"{code} {reason}";
        return ValueTask.CompletedTask;
    }
}

/// <summary>Registry and gateway processes (Gateway:WorkerAuthorization and Gateway:Token on) and an in-process deciding worker.</summary>
public sealed class DecidingClusterFixture : IAsyncLifetime
{
    public const string Key = "deciding-cluster-token-key-0123456789abcdef";
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(2);

    public AuthRecorder Recorder { get; } = new();
    public PushProcess Registry { get; private set; } = null!;
    public PushProcess Gateway { get; private set; } = null!;
    public WebApplication Worker { get; private set; } = null!;
    public PushControlClient Control { get; private set; } = null!;

    public static string PathFor(string sub, string auth = "ok") => $"/?auth={auth}&token={Uri.EscapeDataString(AuthTokens.Valid(Key, sub))}";

    public Uri WsFor(string sub, string auth = "ok") => new(Gateway.Ws, PathFor(sub, auth));

    public async Task InitializeAsync()
    {
        var ct = TestTimeouts.Token(TestTimeouts.Long);
        Registry = await PushProcess.StartAsync("registry", cancellationToken: ct);
        Gateway = await PushProcess.StartAsync("gateway",
        [
            "--registry", Registry.GrpcAddress,
            "--set", "Gateway:WorkerAuthorization=true",
            "--set", $"Gateway:Token:HmacSecret={Key}",
            "--set", $"Gateway:HandshakeTimeout={HandshakeTimeout:c}",
        ], cancellationToken: ct);
        var options = new PushWorkerHostOptions { Secret = TestSecrets.Member };
        options.Registry.Add(Registry.GrpcAddress);
        Worker = PushWorkerHost.Create<AuthDecidingEvents>(options, s => s.AddSingleton(Recorder));
        await Worker.StartAsync(ct);
        Control = Gateway.Control();
        await AuthHelpers.WaitWorkerStreamsAsync(Control, gateways: 1, workers: 1, ct, () => Gateway.Output);
    }

    public async Task DisposeAsync()
    {
        Control?.Dispose();
        // The gateway first: the worker's stop then has no open stream to wait for.
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        if (Worker is not null)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Worker.StopAsync(stop.Token);
            await Worker.DisposeAsync();
        }
        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }
    }
}

[Trait("Category", "Integration")]
public sealed class AuthWorkerDecisionTests(DecidingClusterFixture fixture, ITestOutputHelper output) : IClassFixture<DecidingClusterFixture>
{
    private AuthRecorder Recorder => fixture.Recorder;

    [Fact]
    public async Task WorkerAuthorization_Accepted_ConnectsWithGreetingGroupSessionAndUid()
    {
        var ct = TestTimeouts.Token();
        await using var ws = await TestWebSocket.ConnectAsync(fixture.Gateway.Ws, DecidingClusterFixture.PathFor("carol"), cancellationToken: ct);

        await ws.SendTextAsync("hello", ct);
        Assert.Equal("hello", await ws.ReceiveTextAsync(ct));

        // The worker saw the uid from the token while deciding; what it did in the callback applied after the accept.
        Assert.Equal("carol", Recorder.UidsAtConnect[ws.ClientId]);
        Assert.Contains(ws.ClientId, await fixture.Control.GetClientIdListByGroupAsync("members", ct));
        Assert.Equal("ok", (await fixture.Control.GetSessionAsync(ws.ClientId, ct))["auth"]);
        Assert.Equal("carol", await fixture.Control.GetUidByClientIdAsync(ws.ClientId, ct));
    }

    [Fact]
    public async Task WorkerAuthorization_Rejected_HttpStatusAndNothingLeaks()
    {
        var ct = TestTimeouts.Token();
        var connectsBefore = Recorder.Connects.Count;

        var (status, socket) = await AuthHelpers.HandshakeAsync(fixture.WsFor("dave", "bad"), null, ct);
        using (socket)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.NotEqual(System.Net.WebSockets.WebSocketState.Open, socket.State);
        }
        var rejected = Recorder.Connects.Where(kv => kv.Value == "bad").Select(kv => kv.Key).Single();

        // An accepted client's full round trip (connect, message, close) after the rejection: by then anything the
        // gateway had sent about the rejected one would have been handled.
        var ok = await TestWebSocket.ConnectAsync(fixture.Gateway.Ws, DecidingClusterFixture.PathFor("erin"), cancellationToken: ct);
        await ok.SendTextAsync("ping", ct);
        Assert.Equal("ping", await ok.ReceiveTextAsync(ct));
        var okId = ok.ClientId;
        await ok.DisposeAsync();
        await PollAsync(() => Recorder.Closes.ContainsKey(okId), ct);

        Assert.Equal(connectsBefore + 2, Recorder.Connects.Count);
        Assert.False(Recorder.Closes.ContainsKey(rejected), "OnClose ran for a rejected client");
        Assert.DoesNotContain(rejected, Recorder.Messages);
        Assert.DoesNotContain(rejected, await fixture.Control.GetClientIdListByGroupAsync("members", ct));
        Assert.False(await fixture.Control.IsOnlineAsync(rejected, ct));
        Assert.Empty(await fixture.Control.GetClientIdByUidAsync("dave", ct));
        output.WriteLine($"rejected {rejected}: HTTP {(int)status}, never in the table, no OnClose/OnMessage");
    }

    [Fact]
    public async Task WorkerAuthorization_RejectWithoutStatus_Http403()
    {
        var ct = TestTimeouts.Token();
        var status = await AuthHelpers.HandshakeStatusAsync(fixture.WsFor("banned"), null, ct);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Empty(await fixture.Control.GetClientIdByUidAsync("banned", ct));
    }

    [Fact]
    public async Task WorkerAuthorization_CallbackThrows_Http500()
    {
        var ct = TestTimeouts.Token();
        var status = await AuthHelpers.HandshakeStatusAsync(fixture.WsFor("frank", "throw"), null, ct);

        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Empty(await fixture.Control.GetClientIdByUidAsync("frank", ct));
    }

    [Fact]
    public async Task WorkerAuthorization_InvalidToken_401AndWorkerNeverAsked()
    {
        var ct = TestTimeouts.Token();
        var before = Recorder.Connects.Count;
        var forged = AuthTokens.Valid("not-the-gateway-key-0123456789abcdefghij", "grace");

        var status = await AuthHelpers.HandshakeStatusAsync(new Uri(fixture.Gateway.Ws, "/?token=" + forged), null, ct);
        // A later accepted connect is seen by the worker; the forged one never was.
        await using var ok = await TestWebSocket.ConnectAsync(fixture.Gateway.Ws, DecidingClusterFixture.PathFor("heidi"), cancellationToken: ct);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(before + 1, Recorder.Connects.Count);
    }

    [Fact]
    public async Task WorkerAuthorization_NoDecisionInTime_Http503AndLateAcceptIgnored()
    {
        var ct = TestTimeouts.Token();
        Recorder.SlowEntered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Recorder.ReleaseSlow = new(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = System.Diagnostics.Stopwatch.StartNew();

        var status = await AuthHelpers.HandshakeStatusAsync(fixture.WsFor("ivan", "slow"), null, ct);
        var elapsed = started.Elapsed;
        var slowId = await Recorder.SlowEntered.Task.WaitAsync(ct);
        Recorder.ReleaseSlow.TrySetResult(); // the worker accepts now, too late

        // The gateway told the worker the handshake was abandoned: the worker, which had not decided, sees it close.
        await PollAsync(() => Recorder.Closes.ContainsKey(slowId), ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.InRange(elapsed, DecidingClusterFixture.HandshakeTimeout - TimeSpan.FromMilliseconds(200), DecidingClusterFixture.HandshakeTimeout + TimeSpan.FromSeconds(3));
        Assert.False(await fixture.Control.IsOnlineAsync(slowId, ct));
        Assert.Empty(await fixture.Control.GetClientIdByUidAsync("ivan", ct));
        output.WriteLine($"no decision: HTTP {(int)status} after {elapsed.TotalMilliseconds:F0} ms; worker's OnClose: {Recorder.Closes[slowId]}");
    }

    [Fact]
    public async Task WorkerAuthorization_HandshakeTime_Measured()
    {
        var ct = TestTimeouts.Token();
        var tokens = Enumerable.Range(0, 200).Select(i => DecidingClusterFixture.PathFor($"m{i}")).ToArray();
        await AuthHelpers.MeasureHandshakesAsync(i => new Uri(fixture.Gateway.Ws, tokens[i]), 20, ct); // warm-up

        var times = await AuthHelpers.MeasureHandshakesAsync(i => new Uri(fixture.Gateway.Ws, tokens[i]), 200, ct);

        output.WriteLine($"handshake with token check + worker decision (loopback, sequential, 200): {AuthHelpers.Percentiles(times)}");
    }

    private static async Task PollAsync(Func<bool> condition, CancellationToken ct)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25, ct);
        }
        Assert.True(condition(), "condition not met within 5 s");
    }
}
