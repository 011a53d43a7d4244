using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Push.Hosting;
using Push.V1;
using Push.Worker;
using Push.Worker.Diagnostics;
using Push.Worker.Grpc;

namespace Push.UnitTests.Worker;

/// <summary>The gateway's side of the request stream: batches the test sends, a half-close, or a broken call.</summary>
internal sealed class FakeRequests : IAsyncStreamReader<StreamEventsRequest>
{
    private readonly Channel<StreamEventsRequest> _batches = Channel.CreateUnbounded<StreamEventsRequest>();
    private bool _first = true;
    private int _read;

    public StreamEventsRequest Current { get; private set; } = null!;

    /// <summary>Events the worker has read (the rest are still on their way).</summary>
    public int EventsRead => Volatile.Read(ref _read);

    public void Send(IEnumerable<Event> events)
    {
        var batch = new StreamEventsRequest { Events = { events } };
        if (_first)
        {
            batch.GatewayId = "gw-test";
            batch.GatewayAddress = "http://127.0.0.1:9";
            _first = false;
        }
        _batches.Writer.TryWrite(batch);
    }

    /// <summary>Sends <paramref name="events"/> in messages of 256, as the gateway's writer packs them.</summary>
    public void SendInBatches(IReadOnlyList<Event> events)
    {
        for (var i = 0; i < events.Count; i += 256)
        {
            Send(events.Skip(i).Take(256));
        }
    }

    public void HalfClose() => _batches.Writer.TryComplete();

    /// <summary>The call broke (the gateway died): reading throws as Kestrel's aborted request body does.</summary>
    public void Break() => _batches.Writer.TryComplete(new IOException("The request stream was aborted."));

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        while (await _batches.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_batches.Reader.TryRead(out var batch))
            {
                Current = batch;
                Interlocked.Add(ref _read, batch.Events.Count);
                return true;
            }
        }
        return false;
    }
}

/// <summary>
/// The response stream: records what was written. <see cref="Hold"/> makes writes wait (a gateway that stopped reading:
/// HTTP/2 flow control), <see cref="Fail"/> breaks the stream (waiting and later writes throw).
/// </summary>
internal sealed class FakeResponses : IServerStreamWriter<StreamEventsResponse>
{
    private readonly Lock _sync = new();
    private readonly List<StreamEventsResponse> _written = [];
    private readonly TaskCompletionSource<StreamEventsResponse> _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _gate;
    private bool _failed;

    public WriteOptions? WriteOptions { get; set; }

    /// <summary>Every message written, as it is written.</summary>
    public Channel<StreamEventsResponse> Writes { get; } = Channel.CreateUnbounded<StreamEventsResponse>();

    /// <summary>Completes with the message of the first write that had to wait.</summary>
    public Task<StreamEventsResponse> FirstHeld => _held.Task;

    public IReadOnlyList<StreamEventsResponse> Written
    {
        get
        {
            lock (_sync)
            {
                return [.. _written];
            }
        }
    }

    public void Hold()
    {
        lock (_sync)
        {
            _gate ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Release()
    {
        TaskCompletionSource? gate;
        lock (_sync)
        {
            gate = _gate;
            _gate = null;
        }
        gate?.TrySetResult();
    }

    public void Fail()
    {
        TaskCompletionSource? gate;
        lock (_sync)
        {
            _failed = true;
            gate = _gate;
            _gate = null;
        }
        gate?.TrySetException(new IOException("The response stream was aborted."));
    }

    public Task WriteAsync(StreamEventsResponse message) => WriteAsync(message, CancellationToken.None);

    public async Task WriteAsync(StreamEventsResponse message, CancellationToken cancellationToken)
    {
        Task? gate;
        lock (_sync)
        {
            if (_failed)
            {
                throw new IOException("The response stream was aborted.");
            }
            gate = _gate?.Task;
        }
        if (gate is not null)
        {
            _held.TrySetResult(message);
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        lock (_sync)
        {
            _written.Add(message);
        }
        Writes.Writer.TryWrite(message);
    }
}

/// <summary>Sums the Push.Worker counters of one meter factory, by instrument and push.reason.</summary>
internal sealed class WorkerMeters : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Name, string? Reason), long> _sums = new();

    public WorkerMeters()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        Metrics = new WorkerMetrics(factory);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == factory)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? reason = null;
            foreach (var t in tags)
            {
                if (t.Key == WorkerMetrics.ReasonTag)
                {
                    reason = (string?)t.Value;
                }
            }
            _sums.AddOrUpdate((instrument.Name, reason), value, (_, v) => v + value);
        });
        _listener.Start();
    }

    public WorkerMetrics Metrics { get; }

    public long Sum(string name, string? reason = null) => _sums.TryGetValue((name, reason), out var v) ? v : 0;

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }
}

/// <summary>Log entries, for the rate-limited warnings.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly ConcurrentQueue<(EventId Id, string Message)> _entries = new();

    public IReadOnlyList<(EventId Id, string Message)> Entries => [.. _entries];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => _entries.Enqueue((eventId, formatter(state, exception)));
}

/// <summary>
/// The application: greets nobody, echoes "echo:*" messages, answers "big:N" with N characters, keeps each client's
/// context (for commands outside callbacks) and counts callbacks.
/// </summary>
internal sealed class RecordingEvents : BusinessEvents
{
    private readonly Lock _sync = new();
    private readonly List<(int Target, TaskCompletionSource Reached)> _waits = [];
    private int _callbacks;

    public ConcurrentDictionary<string, ClientContext> Clients { get; } = new(StringComparer.Ordinal);

    /// <summary>"gate:NAME" messages wait until the test completes Gates[NAME].</summary>
    public ConcurrentDictionary<string, TaskCompletionSource> Gates { get; } = new(StringComparer.Ordinal);

    /// <summary>Every callback, in order: "kind:client:detail" (message text, with "+r" when redelivered).</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    public int Callbacks => Volatile.Read(ref _callbacks);

    /// <summary>Completes once <paramref name="target"/> callbacks (of any kind) have started.</summary>
    public Task CallbacksStarted(int target)
    {
        lock (_sync)
        {
            if (_callbacks >= target)
            {
                return Task.CompletedTask;
            }
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waits.Add((target, tcs));
            return tcs.Task;
        }
    }

    public override ValueTask OnConnectAsync(ClientContext client)
    {
        Started();
        Clients[client.ClientId] = client;
        return ValueTask.CompletedTask;
    }

    public override async ValueTask OnMessageAsync(ClientContext client, ClientMessage message)
    {
        Started();
        var text = message.Text ?? string.Empty;
        Log.Enqueue($"message:{client.ClientId}:{text}{(message.Redelivered ? "+r" : string.Empty)}");
        if (text.StartsWith("gate:", StringComparison.Ordinal))
        {
            await Gates.GetOrAdd(text[5..], _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task.ConfigureAwait(false);
        }
        if (text.StartsWith("quiet:", StringComparison.Ordinal))
        {
            return;
        }
        if (text.StartsWith("big:", StringComparison.Ordinal))
        {
            client.SendToCurrentClient(new string('b', int.Parse(text.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture)));
        }
        else
        {
            client.SendToCurrentClient(text);
        }
    }

    public override ValueTask OnResumeAsync(ClientContext client, ResumeInfo info)
    {
        Started();
        Log.Enqueue($"resume:{client.ClientId}:{info.FromGatewayId}:{info.Away.TotalMilliseconds}:{client.Session["k"]}");
        client.SendToCurrentClient("welcome back");
        return ValueTask.CompletedTask;
    }

    public override ValueTask OnCloseAsync(ClientContext client, int code, string reason)
    {
        Started();
        Log.Enqueue($"close:{client.ClientId}:{code}");
        return ValueTask.CompletedTask;
    }

    private void Started()
    {
        List<TaskCompletionSource>? reached = null;
        lock (_sync)
        {
            _callbacks++;
            for (var i = _waits.Count - 1; i >= 0; i--)
            {
                if (_callbacks >= _waits[i].Target)
                {
                    (reached ??= []).Add(_waits[i].Reached);
                    _waits.RemoveAt(i);
                }
            }
        }
        reached?.ForEach(r => r.TrySetResult());
    }
}

/// <summary>A session over the fakes, with the default worker options and fake time.</summary>
internal sealed class SessionHarness : IDisposable
{
    private readonly GatewayClients _gateways = new(Microsoft.Extensions.Options.Options.Create(new ClusterOptions()));

    public SessionHarness(WorkerOptions? options = null, HandledSeqs? handled = null, RecordingEvents? events = null)
    {
        Options = options ?? new WorkerOptions();
        Events = events ?? new RecordingEvents();
        Handled = handled ?? new HandledSeqs();
        Session = new GatewayStreamSession(Events, _gateways, Options, Meters.Metrics, Time, Logger, Handled);
    }

    public HandledSeqs Handled { get; }

    public WorkerOptions Options { get; }
    public RecordingEvents Events { get; }
    public FakeRequests Requests { get; } = new();
    public FakeResponses Responses { get; } = new();
    public WorkerMeters Meters { get; } = new();
    public FakeTimeProvider Time { get; } = new();
    public ListLogger Logger { get; } = new();
    public GatewayStreamSession Session { get; }
    public CancellationTokenSource Call { get; } = new();
    public CancellationTokenSource StopReading { get; } = new();
    public CancellationTokenSource StopHandling { get; } = new();

    public Task RunAsync() => Task.Run(() => Session.RunAsync(Requests, Responses, Call.Token, StopReading.Token, StopHandling.Token));

    public static Event Connect(string clientId) => new() { ClientId = clientId, Connect = new ConnectEvent { Path = "/" } };

    public static Event Message(string clientId, string text) => new() { ClientId = clientId, Message = new MessageEvent { Text = text } };

    public long Unhandled(string reason) => Meters.Sum("push.worker.events.unhandled", reason);

    public long Dropped(string reason) => Meters.Sum("push.worker.commands.dropped", reason);

    public long Queued => Meters.Sum("push.worker.events.queued");

    public void Dispose()
    {
        Call.Dispose();
        StopReading.Dispose();
        StopHandling.Dispose();
        Meters.Dispose();
        _gateways.Dispose();
    }
}
