using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Push.Gateway;
using Push.Gateway.Connections;
using Push.Gateway.Diagnostics;
using Push.Gateway.WebSockets;
using Push.Gateway.Workers;
using Push.Hosting.Cluster;
using Push.V1;

namespace Push.UnitTests.Workers;

/// <summary>
/// One StreamEvents call of a fake worker: records every batch the gateway writes, acknowledges each batch once
/// written (unless <see cref="AutoAck"/> is off), can hold writes (as a worker whose TCP window is full) and can fail
/// (as a worker that died). No sockets.
/// </summary>
internal sealed class FakeStream : IClientStreamWriter<StreamEventsRequest>, IAsyncStreamReader<StreamEventsResponse>
{
    private readonly Channel<StreamEventsResponse> _responses = Channel.CreateUnbounded<StreamEventsResponse>();
    private readonly TaskCompletionSource<Metadata> _headers = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationToken _callToken;
    private TaskCompletionSource _writeGate = Completed();
    private Exception? _failure;
    private ulong _written;
    private ulong _delivered; // the ack of the last response handed to the reader
    private ulong _consumed; // the ack the gateway has applied (it asked for the next response)
    private long _sent; // responses sent
    private long _read; // responses handed to the reader
    private long _applied; // responses the gateway has applied
    private TaskCompletionSource _consumedChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public FakeStream(string workerId, bool answerHeaders, CancellationToken callToken)
    {
        WorkerId = workerId;
        _callToken = callToken;
        if (answerHeaders)
        {
            _headers.TrySetResult([]);
        }
    }

    public string WorkerId { get; }

    /// <summary>Whether each written batch is acknowledged at once (a healthy worker); off, the test sends <see cref="Ack"/>.</summary>
    public bool AutoAck { get; set; } = true;

    /// <summary>Events written on this stream (after the hello).</summary>
    public ulong WrittenCount => Interlocked.Read(ref _written);

    /// <summary>The worker acknowledges the first <paramref name="count"/> events.</summary>
    public void Ack(ulong count) => Respond(new StreamEventsResponse { Ack = count });

    private void Respond(StreamEventsResponse response)
    {
        lock (_responses)
        {
            _sent++;
            _responses.Writer.TryWrite(response);
        }
    }

    /// <summary>Waits until the gateway has applied every response sent so far (it read past them), and an ack of at least <paramref name="count"/>.</summary>
    public async Task AckAppliedAsync(ulong count, CancellationToken ct)
    {
        long sent;
        lock (_responses)
        {
            sent = _sent;
        }
        while (true)
        {
            Task changed;
            lock (_responses)
            {
                if (_consumed >= count && _applied >= sent)
                {
                    return;
                }
                changed = _consumedChanged.Task;
            }
            await changed.WaitAsync(ct);
        }
    }

    /// <summary>Batches written (the first one is the hello with the gateway's identity).</summary>
    public Channel<StreamEventsRequest> Written { get; } = Channel.CreateUnbounded<StreamEventsRequest>();

    /// <summary>Writes that were started (whether or not they completed).</summary>
    public Channel<StreamEventsRequest> Started { get; } = Channel.CreateUnbounded<StreamEventsRequest>();

    private readonly TaskCompletionSource _halfClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool HalfClosed => _halfClosed.Task.IsCompleted;

    public Task WhenHalfClosed => _halfClosed.Task;

    public StreamEventsResponse Current { get; private set; } = null!;

    public WriteOptions? WriteOptions { get; set; }

    public Task<Metadata> Headers => _headers.Task;

    /// <summary>From now on writes wait until <see cref="OpenWrites"/> (the hello is written before the test can hold).</summary>
    public void HoldWrites() => Volatile.Write(ref _writeGate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void OpenWrites() => Volatile.Read(ref _writeGate).TrySetResult();

    /// <summary>The worker dies: reads and writes fail.</summary>
    public void Fail()
    {
        _failure = new RpcException(new Status(StatusCode.Unavailable, "worker died"));
        _responses.Writer.TryComplete(_failure);
        Volatile.Read(ref _writeGate).TrySetException(_failure);
    }

    /// <summary>The worker ends its response stream (as after a half-close).</summary>
    public void End() => _responses.Writer.TryComplete();

    public void Send(Command command) => Respond(new StreamEventsResponse { Commands = { command } });

    public Task WriteAsync(StreamEventsRequest message) => WriteAsync(message, CancellationToken.None);

    public async Task WriteAsync(StreamEventsRequest message, CancellationToken cancellationToken)
    {
        Started.Writer.TryWrite(message);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _callToken);
        await Volatile.Read(ref _writeGate).Task.WaitAsync(linked.Token).ConfigureAwait(false);
        if (_failure is not null)
        {
            throw _failure;
        }
        var total = Interlocked.Add(ref _written, (ulong)message.Events.Count);
        Written.Writer.TryWrite(message);
        if (AutoAck && message.Events.Count > 0)
        {
            Ack(total);
        }
    }

    public Task CompleteAsync()
    {
        _halfClosed.TrySetResult();
        return Task.CompletedTask;
    }

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        TaskCompletionSource? changed = null;
        lock (_responses)
        {
            if (_read > _applied)
            {
                _consumed = _delivered;
                _applied = _read;
                changed = _consumedChanged;
                _consumedChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        changed?.TrySetResult();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _callToken);
        try
        {
            if (!await _responses.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false))
            {
                return false;
            }
        }
        catch (OperationCanceledException)
        {
            throw new RpcException(new Status(StatusCode.Cancelled, "call cancelled"));
        }
        Current = await _responses.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
        lock (_responses)
        {
            _delivered = Math.Max(_delivered, Current.Ack);
            _read++;
        }
        return true;
    }

    /// <summary>Every event written after the hello, in order.</summary>
    public List<Event> Events()
    {
        var all = new List<Event>();
        while (Written.Reader.TryRead(out var batch))
        {
            all.AddRange(batch.Events);
        }
        return all;
    }

    /// <summary>Waits until <paramref name="count"/> events were written (after the hello) and returns them.</summary>
    public async Task<List<Event>> EventsAsync(int count, CancellationToken ct)
    {
        var all = new List<Event>();
        while (all.Count < count)
        {
            var batch = await Written.Reader.ReadAsync(ct);
            all.AddRange(batch.Events);
        }
        return all;
    }

    private static TaskCompletionSource Completed()
    {
        var tcs = new TaskCompletionSource();
        tcs.SetResult();
        return tcs;
    }
}

/// <summary>Fake workers by id: each StreamEvents call becomes a <see cref="FakeStream"/> the test can drive.</summary>
internal sealed class FakeWorkers : IWorkerConnector
{
    private readonly Dictionary<string, Channel<FakeStream>> _streams = [];
    private readonly List<FakeStream> _all = [];

    /// <summary>Every stream ever opened.</summary>
    public FakeStream[] All
    {
        get { lock (_all) { return [.. _all]; } }
    }

    /// <summary>When false, new streams wait for their response headers until the test answers them.</summary>
    public bool AnswerHeaders { get; set; } = true;

    public Channel<FakeStream> Streams(string workerId)
    {
        lock (_streams)
        {
            if (!_streams.TryGetValue(workerId, out var ch))
            {
                _streams[workerId] = ch = Channel.CreateUnbounded<FakeStream>();
            }
            return ch;
        }
    }

    public IWorkerCalls Connect(Member worker) => new Calls(this, worker.Id);

    private sealed class Calls(FakeWorkers owner, string workerId) : IWorkerCalls
    {
        public AsyncDuplexStreamingCall<StreamEventsRequest, StreamEventsResponse> StreamEvents(CancellationToken cancellationToken)
        {
            var s = new FakeStream(workerId, owner.AnswerHeaders, cancellationToken);
            lock (owner._all)
            {
                owner._all.Add(s);
            }
            owner.Streams(workerId).Writer.TryWrite(s);
            return new AsyncDuplexStreamingCall<StreamEventsRequest, StreamEventsResponse>(s, s, s.Headers, static () => Status.DefaultSuccess, static () => [], static () => { });
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>A WorkerRouter over fake workers, fake time and in-memory connections.</summary>
internal sealed class RouterHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly ClusterMembership _membership = new();
    private readonly List<Member> _members = [];

    public RouterHarness(GatewayOptions? options = null)
    {
        Options = options ?? new GatewayOptions();
        Table = new ConnectionTable(Identity);
        Metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());
        var advertised = new AdvertisedAddress();
        advertised.Set("http://gateway:1");
        Router = new WorkerRouter(_membership, Table, Identity, advertised, Metrics, new PendingHandshakes(Table), Workers, Time, Microsoft.Extensions.Options.Options.Create(Options), NullLogger<WorkerRouter>.Instance, NullLogger<WorkerLink>.Instance);
    }

    public GatewayIdentity Identity { get; } = new();
    public GatewayOptions Options { get; }
    public ConnectionTable Table { get; }
    public GatewayMetrics Metrics { get; }
    public FakeWorkers Workers { get; } = new();
    public ObservedTime Time { get; } = new();
    public WorkerRouter Router { get; }

    public long Dropped => Interlocked.Read(ref Metrics.MessagesDropped);

    public static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;

    public Task StartAsync() => Router.StartAsync(CancellationToken.None);

    /// <summary>Adds workers to the membership and returns the first stream each opens (headers answered, link open).</summary>
    public async Task<FakeStream[]> AddWorkersAsync(CancellationToken ct, params string[] ids)
    {
        foreach (var id in ids)
        {
            _members.Add(new Member { Id = id, Address = "http://" + id, Role = MemberRole.Worker });
        }
        _membership.Update("registry", _members);
        var streams = new FakeStream[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            streams[i] = await NextStreamAsync(ids[i], ct);
        }
        return streams;
    }

    public void RemoveWorker(string id)
    {
        _members.RemoveAll(m => m.Id == id);
        _membership.Update("registry", _members);
    }

    /// <summary>The next stream the worker gets, once its link is open.</summary>
    public async Task<FakeStream> NextStreamAsync(string id, CancellationToken ct)
    {
        var s = await Workers.Streams(id).Reader.ReadAsync(ct);
        await s.Written.Reader.ReadAsync(ct); // the hello
        await UntilAsync(() => Router.OpenLinks.Any(l => l.WorkerId == id && l.IsOpen), ct);
        return s;
    }

    public WorkerLink Link(string id) => Router.Links.Single(l => l.WorkerId == id);

    /// <summary>Waits, on the router's own state changes (no polling), until <paramref name="condition"/> holds.</summary>
    public async Task UntilAsync(Func<bool> condition, CancellationToken ct)
    {
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChange() => changed.TrySetResult();
        Router.StateChanged += OnChange;
        try
        {
            while (!condition())
            {
                await changed.Task.WaitAsync(ct);
                changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (condition())
                {
                    return;
                }
            }
        }
        finally
        {
            Router.StateChanged -= OnChange;
        }
    }

    public ClientConnection Connect()
    {
        var seq = Table.NextSequence();
        var toClient = new Pipe();
        var fromClient = new Pipe();
        var transport = new DefaultConnectionContext($"c{seq}", new DuplexPipe(fromClient.Reader, toClient.Writer), new DuplexPipe(toClient.Reader, fromClient.Writer));
        var c = new ClientConnection(seq, ClientId.Format(Identity.Id, seq), transport, Metrics, Options);
        Table.Add(c);
        return c;
    }

    public static Event Message(ClientConnection c, string text) => new() { ClientId = c.ClientId, Message = new MessageEvent { Text = text } };

    public static Event Message(ClientConnection c, int bytes) => new() { ClientId = c.ClientId, Message = new MessageEvent { Binary = Google.Protobuf.ByteString.CopyFrom(new byte[bytes]) } };

    public async ValueTask DisposeAsync()
    {
        // Leaving workers answer what they have and end their streams (no LeaveTimeout on fake time).
        var stop = Router.StopAsync(CancellationToken.None);
        foreach (var s in Workers.All)
        {
            s.End();
        }
        await stop;
        Router.Dispose();
        await _services.DisposeAsync();
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
