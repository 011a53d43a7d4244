using Push.V1;

namespace Push.Worker;

/// <summary>
/// The commands the client's running callback made, which go to the stream in order when the callback returns;
/// commands made outside a callback (a timer, another client's callback) go to the stream at once.
/// </summary>
/// <remarks>
/// Most callbacks make one command: it is kept in a field, a list only for the second on (and dropped with the
/// callback). The guard is a flag word rather than a lock object per client: it is held for a few instructions, and
/// only a thread the callback started can meet the lane's thread there.
/// </remarks>
public sealed partial class ClientContext
{
    private Command? _firstPending;
    private List<Command>? _morePending;
    private int _pendingGate;
    private volatile bool _inCallback;

    /// <summary>While true, the client's commands wait for the end of the callback.</summary>
    internal bool InCallback => _inCallback;

    /// <summary>Number of commands waiting (read on the lane's thread once the callback ended).</summary>
    internal int PendingCount => _firstPending is null ? 0 : 1 + (_morePending?.Count ?? 0);

    internal void BeginCallback() => _inCallback = true;

    /// <summary>From here on, sends from other threads go out as commands outside a callback.</summary>
    internal void EndCallback()
    {
        EnterGate();
        _inCallback = false;
        ExitGate();
    }

    /// <summary>Adds a command of the running callback; false when no callback runs (the caller sends it at once).</summary>
    private bool TryAddPending(Command command)
    {
        // The check and the add are one step: a thread the callback started may still send after it returned.
        EnterGate();
        try
        {
            if (!_inCallback)
            {
                return false;
            }
            AddPending(command);
            return true;
        }
        finally
        {
            ExitGate();
        }
    }

    /// <summary>Appends a command the SDK makes for the callback (a session write-back), on the lane's thread after it.</summary>
    internal void AddPending(Command command)
    {
        if (_firstPending is null)
        {
            _firstPending = command;
        }
        else
        {
            (_morePending ??= []).Add(command);
        }
    }

    /// <summary>Puts a command before every other of the callback (the handshake's answer).</summary>
    internal void InsertPendingFirst(Command command)
    {
        if (_firstPending is not null)
        {
            (_morePending ??= []).Insert(0, _firstPending);
        }
        _firstPending = command;
    }

    /// <summary>Takes the waiting commands, in order.</summary>
    internal Command[] TakePending()
    {
        Command[] taken;
        if (_morePending is null)
        {
            taken = _firstPending is null ? [] : [_firstPending];
        }
        else
        {
            taken = new Command[1 + _morePending.Count];
            taken[0] = _firstPending!;
            _morePending.CopyTo(taken, 1);
        }
        ClearPendingUnguarded();
        return taken;
    }

    /// <summary>Drops the waiting commands (the client closed, moved or was rejected).</summary>
    internal void ClearPending()
    {
        EnterGate();
        ClearPendingUnguarded();
        ExitGate();
    }

    private void ClearPendingUnguarded()
    {
        _firstPending = null;
        _morePending = null;
    }

    private void EnterGate()
    {
        if (Interlocked.CompareExchange(ref _pendingGate, 1, 0) != 0)
        {
            SpinEnterGate();
        }
    }

    private void SpinEnterGate()
    {
        var spin = default(SpinWait);
        while (Interlocked.CompareExchange(ref _pendingGate, 1, 0) != 0)
        {
            spin.SpinOnce();
        }
    }

    private void ExitGate() => Volatile.Write(ref _pendingGate, 0);
}
