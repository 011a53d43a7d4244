using System.Numerics;

namespace Push.Bench.Load;

/// <summary>
/// A lock-free log-linear histogram of microsecond values: exact below 256 µs,
/// then 128 sub-buckets per power of two (under 1% error). Safe to record into
/// from many threads.
/// </summary>
public sealed class Histogram
{
    private const int Linear = 256;
    private const int Sub = 128;
    private const int Octaves = 40;
    private readonly long[] _buckets = new long[Linear + (Octaves * Sub)];

    public void Record(long micros)
    {
        Interlocked.Increment(ref _buckets[Index(micros)]);
    }

    public void Add(Histogram other)
    {
        for (int i = 0; i < _buckets.Length; i++)
        {
            _buckets[i] += Volatile.Read(ref other._buckets[i]);
        }
    }

    public long Count
    {
        get
        {
            long n = 0;
            for (int i = 0; i < _buckets.Length; i++)
            {
                n += Volatile.Read(ref _buckets[i]);
            }
            return n;
        }
    }

    /// <summary>The value (µs) at percentile p (0-100); NaN when empty.</summary>
    public double Percentile(double p)
    {
        long count = Count;
        if (count == 0)
        {
            return double.NaN;
        }
        long target = Math.Max(1, (long)Math.Ceiling(p / 100.0 * count));
        long seen = 0;
        for (int i = 0; i < _buckets.Length; i++)
        {
            seen += Volatile.Read(ref _buckets[i]);
            if (seen >= target)
            {
                return Value(i);
            }
        }
        return Value(_buckets.Length - 1);
    }

    private static int Index(long v)
    {
        if (v < Linear)
        {
            return v < 0 ? 0 : (int)v;
        }
        int msb = 63 - BitOperations.LeadingZeroCount((ulong)v);
        int shift = msb - 7;
        if (shift > Octaves)
        {
            return Linear + (Octaves * Sub) - 1;
        }
        return Linear + ((shift - 1) * Sub) + (int)((v >> shift) - Sub);
    }

    private static long Value(int i)
    {
        if (i < Linear)
        {
            return i;
        }
        int shift = ((i - Linear) / Sub) + 1;
        long mantissa = ((i - Linear) % Sub) + Sub;
        return (mantissa << shift) + (1L << (shift - 1));
    }
}
