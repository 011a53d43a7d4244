using Google.Protobuf;
using Google.Protobuf.Collections;
using Push.V1;

namespace Push.Worker.Grpc;

/// <summary>What <see cref="CommandQueue.TryWrite"/> did with a command.</summary>
internal enum CommandAdmission
{
    /// <summary>Queued.</summary>
    Queued,

    /// <summary>No room (count or bytes), or callbacks already wait for room.</summary>
    Full,

    /// <summary>The stream ended: nothing is queued any more.</summary>
    Closed,

    /// <summary>Larger than any message the gateway accepts: never queued.</summary>
    TooLarge,
}

/// <summary>
/// The commands of one gateway stream waiting for its writer, bounded by count (Worker:QueueCapacity) and by encoded
/// bytes (Worker:CommandQueueBytes); a command larger than the byte budget is admitted into an empty queue, one larger
/// than the gateway's receive limit never (it would fail the whole stream). Writers
/// that wait get room in arrival order. <see cref="Complete"/> ends admission (waiting writers get false); the reader
/// still drains what is queued.
/// </summary>
internal sealed class CommandQueue
{
    private const int FieldTagSize = 1; // StreamEventsResponse.commands = 1

    private readonly Lock _sync = new();
    private readonly Queue<(Command Command, int Size)> _items = new();
    private readonly Queue<Waiter> _waiters = new();
    private readonly int _capacity;
    private readonly long _budget;
    private readonly int _maxCommand;
    private long _bytes;
    private long _admitted; // commands ever queued
    private long _taken; // commands ever read
    private bool _completed;
    private TaskCompletionSource<bool>? _readable;

    public CommandQueue(int capacity, long byteBudget, int maxCommandBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(byteBudget, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCommandBytes, 1);
        _capacity = capacity;
        _budget = byteBudget;
        _maxCommand = maxCommandBytes;
    }

    /// <summary>Commands queued.</summary>
    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>Encoded bytes of the queued commands (as fields of a StreamEventsResponse).</summary>
    public long Bytes
    {
        get
        {
            lock (_sync)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Commands ever queued (a command is below this count from the moment it is queued).</summary>
    public long Admitted
    {
        get
        {
            lock (_sync)
            {
                return _admitted;
            }
        }
    }

    /// <summary>Commands ever read by the writer.</summary>
    public long Taken
    {
        get
        {
            lock (_sync)
            {
                return _taken;
            }
        }
    }

    /// <summary>Writers waiting for room.</summary>
    public int Waiting
    {
        get
        {
            lock (_sync)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>Bytes a command takes in a StreamEventsResponse.</summary>
    public static int EncodedSize(Command command)
    {
        var size = command.CalculateSize();
        return FieldTagSize + CodedOutputStream.ComputeLengthSize(size) + size;
    }

    /// <summary>Queues <paramref name="command"/> if there is room now; never waits.</summary>
    public CommandAdmission TryWrite(Command command)
    {
        var size = EncodedSize(command);
        if (size > _maxCommand)
        {
            return CommandAdmission.TooLarge;
        }
        TaskCompletionSource<bool>? readable;
        lock (_sync)
        {
            if (_completed)
            {
                return CommandAdmission.Closed;
            }
            if (_waiters.Count > 0 || !Fits(size))
            {
                return CommandAdmission.Full;
            }
            readable = EnqueueLocked(command, size);
        }
        readable?.TrySetResult(true);
        return CommandAdmission.Queued;
    }

    /// <summary>
    /// Queues <paramref name="command"/>, waiting for room: Queued, Closed when the queue was completed first, or
    /// TooLarge. Throws <see cref="OperationCanceledException"/> (nothing queued) at <paramref name="cancellationToken"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="wake"/> false: a command queued at once does not wake a waiting writer; the caller calls
    /// <see cref="Wake"/> when it is done (a lane first moves the ack watermark, so that the writer's message carries
    /// the commands and their ack together).
    /// </remarks>
    public async ValueTask<CommandAdmission> WriteAsync(Command command, CancellationToken cancellationToken, bool wake = true)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var size = EncodedSize(command);
        if (size > _maxCommand)
        {
            return CommandAdmission.TooLarge;
        }
        return await WriteAsync(command, size, wake, cancellationToken).ConfigureAwait(false) ? CommandAdmission.Queued : CommandAdmission.Closed;
    }

    /// <summary>
    /// Wakes the writer if it waits and commands are queued (those queued with wake: false); false when none are
    /// queued (the writer, busy or not, has taken them all).
    /// </summary>
    public bool Wake()
    {
        TaskCompletionSource<bool>? readable;
        lock (_sync)
        {
            if (_items.Count == 0)
            {
                return false;
            }
            readable = _readable;
            _readable = null;
        }
        readable?.TrySetResult(true);
        return true;
    }

    private ValueTask<bool> WriteAsync(Command command, int size, bool wake, CancellationToken cancellationToken)
    {
        TaskCompletionSource<bool>? readable = null;
        Waiter? waiter = null;
        lock (_sync)
        {
            if (_completed)
            {
                return new ValueTask<bool>(false);
            }
            if (_waiters.Count > 0 || !Fits(size))
            {
                waiter = new Waiter(this, command, size);
                _waiters.Enqueue(waiter);
            }
            else
            {
                readable = EnqueueLocked(command, size, wake);
            }
        }
        if (waiter is null)
        {
            readable?.TrySetResult(true);
            return new ValueTask<bool>(true);
        }
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.UnsafeRegister(static (state, ct) => ((Waiter)state!).Owner.Cancel((Waiter)state!, ct), waiter);
            lock (_sync)
            {
                if (waiter.Finished)
                {
                    registration.Unregister();
                }
                else
                {
                    waiter.Registration = registration;
                }
            }
        }
        return new ValueTask<bool>(waiter.Done.Task);
    }

    /// <summary>True once a command is queued, false when the queue is completed and empty.</summary>
    public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        Task<bool> wait;
        lock (_sync)
        {
            if (_items.Count > 0)
            {
                return true;
            }
            if (_completed)
            {
                return false;
            }
            _readable ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _readable.Task;
        }
        await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await WaitToReadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Moves queued commands into <paramref name="batch"/> in order: at most <paramref name="maxCount"/>, and at most
    /// <paramref name="maxBytes"/> encoded bytes unless the first command alone is larger. Returns the bytes taken.
    /// </summary>
    public long ReadBatch(RepeatedField<Command> batch, int maxCount, long maxBytes)
    {
        List<Waiter>? admitted;
        TaskCompletionSource<bool>? readable;
        long taken = 0;
        lock (_sync)
        {
            while (batch.Count < maxCount && _items.TryPeek(out var item))
            {
                if (batch.Count > 0 && taken + item.Size > maxBytes)
                {
                    break;
                }
                _items.Dequeue();
                _bytes -= item.Size;
                _taken++;
                taken += item.Size;
                batch.Add(item.Command);
            }
            admitted = AdmitLocked(out readable);
        }
        Release(admitted, readable);
        return taken;
    }

    /// <summary>Ends admission: waiting and later writers get false (TryWrite: Closed); queued commands stay readable.</summary>
    public void Complete()
    {
        List<Waiter> refused;
        TaskCompletionSource<bool>? readable;
        lock (_sync)
        {
            if (_completed)
            {
                return;
            }
            _completed = true;
            refused = [.. _waiters];
            _waiters.Clear();
            foreach (var w in refused)
            {
                w.Finished = true;
                w.Registration.Unregister();
            }
            readable = _readable;
            _readable = null;
        }
        foreach (var w in refused)
        {
            w.Done.TrySetResult(false);
        }
        readable?.TrySetResult(false);
    }

    /// <summary>Discards every queued command (their writer is gone); returns how many.</summary>
    public int Clear()
    {
        lock (_sync)
        {
            var n = _items.Count;
            _items.Clear();
            _taken += n;
            _bytes = 0;
            return n;
        }
    }

    private bool Fits(int size) => _items.Count == 0 || (_items.Count < _capacity && _bytes + size <= _budget);

    // wake false: the waiting writer is left for the caller's Wake (see WriteAsync).
    private TaskCompletionSource<bool>? EnqueueLocked(Command command, int size, bool wake = true)
    {
        _items.Enqueue((command, size));
        _bytes += size;
        _admitted++;
        if (!wake)
        {
            return null;
        }
        var readable = _readable;
        _readable = null;
        return readable;
    }

    private List<Waiter>? AdmitLocked(out TaskCompletionSource<bool>? readable)
    {
        readable = null;
        List<Waiter>? admitted = null;
        while (_waiters.TryPeek(out var w) && Fits(w.Size))
        {
            _waiters.Dequeue();
            w.Finished = true;
            w.Registration.Unregister();
            var r = EnqueueLocked(w.Command, w.Size);
            readable ??= r;
            (admitted ??= []).Add(w);
        }
        return admitted;
    }

    private void Cancel(Waiter waiter, CancellationToken cancellationToken)
    {
        List<Waiter>? admitted;
        TaskCompletionSource<bool>? readable;
        lock (_sync)
        {
            if (waiter.Finished)
            {
                return;
            }
            waiter.Finished = true;
            // Rebuild the line without it: the next writer may fit now.
            var rest = _waiters.Where(w => w != waiter).ToArray();
            _waiters.Clear();
            foreach (var w in rest)
            {
                _waiters.Enqueue(w);
            }
            admitted = AdmitLocked(out readable);
        }
        waiter.Done.TrySetCanceled(cancellationToken);
        Release(admitted, readable);
    }

    private static void Release(List<Waiter>? admitted, TaskCompletionSource<bool>? readable)
    {
        if (admitted is not null)
        {
            foreach (var w in admitted)
            {
                w.Done.TrySetResult(true);
            }
        }
        readable?.TrySetResult(true);
    }

    private sealed class Waiter(CommandQueue owner, Command command, int size)
    {
        public CommandQueue Owner { get; } = owner;
        public Command Command { get; } = command;
        public int Size { get; } = size;
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration { get; set; }
        public bool Finished { get; set; }
    }
}
