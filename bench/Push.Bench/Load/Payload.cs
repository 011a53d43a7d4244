using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;

namespace Push.Bench.Load;

/// <summary>
/// The 64-byte ASCII payload every timed message carries:
/// <c>ts=&lt;16 hex Stopwatch ticks&gt;;s=&lt;8 hex sequence&gt;;xxxx...</c>.
/// Stopwatch ticks come from CLOCK_MONOTONIC on Linux, so a timestamp written
/// by one process can be compared with a receipt time read in another.
/// The marker is searched for inside the received message, so a server that
/// wraps the text (for example in a JSON echo envelope) is measured too.
/// </summary>
public static class Payload
{
    public const int Size = 64;
    private const int MarkerLength = 30; // "ts=" + 16 + ";s=" + 8

    private static ReadOnlySpan<byte> Marker => "ts="u8;

    public static string Text(long ticks, int seq) =>
        string.Create(Size, (ticks, seq), static (span, st) =>
        {
            "ts=".AsSpan().CopyTo(span);
            st.ticks.TryFormat(span.Slice(3, 16), out _, "x16");
            ";s=".AsSpan().CopyTo(span.Slice(19));
            ((uint)st.seq).TryFormat(span.Slice(22, 8), out _, "x8");
            span[30] = ';';
            span.Slice(31).Fill('x');
        });

    public static string Now(int seq) => Text(Stopwatch.GetTimestamp(), seq);

    /// <summary>Writes the payload as UTF-8 bytes (exactly <see cref="Size"/>).</summary>
    public static void Write(Span<byte> dst, long ticks, int seq)
    {
        "ts="u8.CopyTo(dst);
        Utf8Formatter.TryFormat(ticks, dst.Slice(3, 16), out _, new StandardFormat('x', 16));
        ";s="u8.CopyTo(dst.Slice(19));
        Utf8Formatter.TryFormat((uint)seq, dst.Slice(22, 8), out _, new StandardFormat('x', 8));
        dst[30] = (byte)';';
        dst.Slice(31, Size - 31).Fill((byte)'x');
    }

    public static bool TryParse(ReadOnlySpan<byte> message, out long ticks, out int seq)
    {
        ticks = 0;
        seq = 0;
        int i = message.IndexOf(Marker);
        if (i < 0 || message.Length - i < MarkerLength)
        {
            return false;
        }
        var m = message.Slice(i);
        if (!Utf8Parser.TryParse(m.Slice(3, 16), out ulong t, out int used, 'x') || used != 16)
        {
            return false;
        }
        if (!Utf8Parser.TryParse(m.Slice(22, 8), out uint s, out used, 'x') || used != 8)
        {
            return false;
        }
        ticks = (long)t;
        seq = (int)s;
        return true;
    }

    /// <summary>Microseconds from a Stopwatch timestamp to now.</summary>
    public static long MicrosSince(long ticks) =>
        (Stopwatch.GetTimestamp() - ticks) * 1_000_000 / Stopwatch.Frequency;
}
