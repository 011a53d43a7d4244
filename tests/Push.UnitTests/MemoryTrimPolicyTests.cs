using Push.Gateway.Hosting;

namespace Push.UnitTests;

public sealed class MemoryTrimPolicyTests
{
    private const long MiB = 1 << 20;

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact(Timeout = 5000)]
    public async Task TrimsOnceAfterABurstWhenAllocationStops()
    {
        await Task.Yield();
        var p = new MemoryTrimPolicy(16 * MiB);
        Assert.False(p.Tick(0, 1, 40 * MiB, 40 * MiB, S(1)));
        // A burst: 100 MiB allocated, no GC.
        Assert.False(p.Tick(50 * MiB, 1, 40 * MiB, 40 * MiB, S(2)));
        Assert.False(p.Tick(100 * MiB, 1, 40 * MiB, 40 * MiB, S(3)));
        // Quiet ticks: the trim comes on the QuietTicks-th.
        for (int q = 1; q < MemoryTrimPolicy.QuietTicks; q++)
        {
            Assert.False(p.Tick(100 * MiB, 1, 40 * MiB, 40 * MiB, S(3 + q)));
        }
        Assert.True(p.Tick(100 * MiB, 1, 40 * MiB, 40 * MiB, S(3 + MemoryTrimPolicy.QuietTicks)));
        // The trim's own GC: nothing left to give back, nothing allocated since.
        for (int t = 10; t < 60; t++)
        {
            Assert.False(p.Tick(100 * MiB, 2, 60 * MiB, 60 * MiB, S(t)));
        }
    }

    [Fact(Timeout = 5000)]
    public async Task NeverTrimsWhileAllocating()
    {
        await Task.Yield();
        var p = new MemoryTrimPolicy(16 * MiB);
        for (int t = 0; t < 100; t++)
        {
            Assert.False(p.Tick(t * 2 * MiB, t / 10, 200 * MiB, 40 * MiB, S(t)));
        }
    }

    [Fact(Timeout = 5000)]
    public async Task SmallSurplusesAndZeroAreLeftAlone()
    {
        await Task.Yield();
        var small = new MemoryTrimPolicy(16 * MiB);
        var off = new MemoryTrimPolicy(0);
        for (int t = 0; t < 20; t++)
        {
            // 10 MiB free: below the minimum.
            Assert.False(small.Tick(0, 1, 50 * MiB, 40 * MiB, S(t)));
            Assert.False(off.Tick(0, 1, 500 * MiB, 40 * MiB, S(t)));
        }
        // 20 MiB free but less than a quarter of a 100 MiB heap.
        var quarter = new MemoryTrimPolicy(16 * MiB);
        for (int t = 0; t < 20; t++)
        {
            Assert.False(quarter.Tick(0, 1, 120 * MiB, 100 * MiB, S(t)));
        }
    }

    [Fact(Timeout = 5000)]
    public async Task TrimsAtMostOncePerInterval()
    {
        await Task.Yield();
        var p = new MemoryTrimPolicy(16 * MiB);
        int trims = 0;
        long allocated = 0;
        for (int t = 0; t < 40; t++)
        {
            // A burst every QuietTicks + 2 s, quiet in between, a surplus every time.
            if (t % (MemoryTrimPolicy.QuietTicks + 2) == 0)
            {
                allocated += 100 * MiB;
            }
            if (p.Tick(allocated, 1, 40 * MiB, 40 * MiB, S(t)))
            {
                trims++;
            }
        }
        Assert.InRange(trims, 1, (int)(40 / MemoryTrimPolicy.MinInterval.TotalSeconds) + 1);
    }
}
