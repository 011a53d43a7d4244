using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Push.UnitTests.Workers;

/// <summary>Fake time that reports every timer created (its due time), so a test advances time only once code waits on it.</summary>
internal sealed class ObservedTime : FakeTimeProvider
{
    public Channel<TimeSpan> Timers { get; } = Channel.CreateUnbounded<TimeSpan>();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Observed(base.CreateTimer(callback, state, dueTime, period), Timers);
        Timers.Writer.TryWrite(dueTime);
        return timer;
    }

    private sealed class Observed(ITimer inner, Channel<TimeSpan> timers) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = inner.Change(dueTime, period);
            timers.Writer.TryWrite(dueTime);
            return changed;
        }

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Waits until a timer due in <paramref name="due"/> was created, then advances by it.</summary>
    public async Task AdvanceWhenWaitingAsync(TimeSpan due, CancellationToken ct)
    {
        while (await Timers.Reader.ReadAsync(ct) != due)
        {
        }
        Advance(due);
    }
}
