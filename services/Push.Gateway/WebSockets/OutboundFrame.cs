using System.Buffers.Binary;
using System.Text;

namespace Push.Gateway.WebSockets;

/// <summary>
/// A server-to-client WebSocket frame, encoded once (header + payload, unmasked) and shared by every connection
/// a push fans out to.
/// </summary>
internal sealed class OutboundFrame
{
    public const byte OpText = 0x1;
    public const byte OpBinary = 0x2;
    public const byte OpClose = 0x8;
    public const byte OpPing = 0x9;
    public const byte OpPong = 0xA;

    private OutboundFrame(byte[] bytes, bool isClose, bool countsAsMessage)
    {
        Bytes = bytes;
        IsClose = isClose;
        CountsAsMessage = countsAsMessage;
    }

    public byte[] Bytes { get; }
    public bool IsClose { get; }
    public bool CountsAsMessage { get; }
    public int Length => Bytes.Length;

    public static int HeaderLength(int payloadLength) => payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    public static OutboundFrame Text(string text)
    {
        var count = Encoding.UTF8.GetByteCount(text);
        var header = HeaderLength(count);
        var bytes = new byte[header + count];
        WriteHeader(bytes, OpText, count);
        Encoding.UTF8.GetBytes(text, bytes.AsSpan(header));
        return new OutboundFrame(bytes, false, true);
    }

    /// <summary>Bytes written as they are (the 101 answer of a handshake the worker authorized).</summary>
    public static OutboundFrame Raw(byte[] bytes) => new(bytes, false, false);

    public static OutboundFrame Binary(ReadOnlySpan<byte> payload) => Create(OpBinary, payload, countsAsMessage: true);

    public static OutboundFrame Ping(ReadOnlySpan<byte> payload) => Create(OpPing, payload, countsAsMessage: false);

    public static OutboundFrame Pong(ReadOnlySpan<byte> payload) => Create(OpPong, payload, countsAsMessage: false);

    public static OutboundFrame Close(int code, string reason)
    {
        Span<byte> payload = stackalloc byte[125];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        // RFC 6455 allows 123 bytes of reason: cut on a character boundary, never inside a surrogate pair.
        var chars = Math.Min(reason.Length, 123);
        while (chars > 0 && Encoding.UTF8.GetByteCount(reason.AsSpan(0, chars)) > 123)
        {
            chars--;
        }
        if (chars > 0 && char.IsHighSurrogate(reason[chars - 1]))
        {
            chars--;
        }
        var written = Encoding.UTF8.GetBytes(reason.AsSpan(0, chars), payload[2..]);
        var frame = Create(OpClose, payload[..(2 + written)], countsAsMessage: false);
        return new OutboundFrame(frame.Bytes, true, false);
    }

    private static OutboundFrame Create(byte opcode, ReadOnlySpan<byte> payload, bool countsAsMessage)
    {
        var header = HeaderLength(payload.Length);
        var bytes = new byte[header + payload.Length];
        WriteHeader(bytes, opcode, payload.Length);
        payload.CopyTo(bytes.AsSpan(header));
        return new OutboundFrame(bytes, false, countsAsMessage);
    }

    private static void WriteHeader(Span<byte> dest, byte opcode, int length)
    {
        dest[0] = (byte)(0x80 | opcode);
        if (length < 126)
        {
            dest[1] = (byte)length;
        }
        else if (length <= ushort.MaxValue)
        {
            dest[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)length);
        }
        else
        {
            dest[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(dest[2..], (ulong)length);
        }
    }
}
