namespace Push.Worker.Hosting;

/// <summary>The gateway streams attached to this worker, and the signals that end them when the worker stops.</summary>
internal sealed class GatewaySessions : IDisposable
{
    private readonly Lock _sync = new();
    private readonly CancellationTokenSource _stopReading = new();
    private readonly CancellationTokenSource _stopHandling = new();
    private TaskCompletionSource _idle = NewIdle(completed: true);
    private int _open;

    public int Open => Volatile.Read(ref _open);

    /// <summary>Cancelled when the worker gives up waiting for gateways to leave: sessions stop reading events.</summary>
    public CancellationToken Stopping => _stopReading.Token;

    /// <summary>Cancelled at the very end of the drain: sessions stop handling the events they still hold.</summary>
    public CancellationToken Aborting => _stopHandling.Token;

    public void Opened()
    {
        lock (_sync)
        {
            if (_open++ == 0)
            {
                _idle = NewIdle(completed: false);
            }
        }
    }

    public void Closed()
    {
        TaskCompletionSource? idle = null;
        lock (_sync)
        {
            if (--_open == 0)
            {
                idle = _idle;
            }
        }
        idle?.TrySetResult();
    }

    /// <summary>True once no stream is attached, false after <paramref name="timeout"/> (or at <paramref name="cancellationToken"/>).</summary>
    public async Task<bool> WaitAllClosedAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        Task idle;
        lock (_sync)
        {
            idle = _idle.Task;
        }
        try
        {
            await idle.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public void Stop() => _stopReading.Cancel();

    public void Abort() => _stopHandling.Cancel();

    public void Dispose()
    {
        _stopReading.Dispose();
        _stopHandling.Dispose();
    }

    private static TaskCompletionSource NewIdle(bool completed)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            tcs.SetResult();
        }
        return tcs;
    }
}
