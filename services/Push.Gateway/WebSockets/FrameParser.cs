using System.Buffers;
using System.Buffers.Binary;

namespace Push.Gateway.WebSockets;

/// <summary>Header of one client-to-server frame.</summary>
internal readonly record struct FrameHeader(bool Fin, byte Opcode, long PayloadLength, int HeaderLength, uint MaskKey);

internal enum FrameParseStatus
{
    NeedMore,
    Frame,
    Error,
}

/// <summary>Parses RFC 6455 frame headers sent by clients (which must be masked); pure, no I/O.</summary>
internal static class FrameParser
{
    public static FrameParseStatus TryParseHeader(in ReadOnlySequence<byte> buffer, long maxPayload, out FrameHeader header, out int errorCode, out string errorReason)
    {
        header = default;
        errorCode = 0;
        errorReason = string.Empty;
        if (buffer.Length < 2)
        {
            return FrameParseStatus.NeedMore;
        }
        Span<byte> head = stackalloc byte[14];
        var available = (int)Math.Min(buffer.Length, 14);
        buffer.Slice(0, available).CopyTo(head);
        var b0 = head[0];
        var b1 = head[1];
        var fin = (b0 & 0x80) != 0;
        var opcode = (byte)(b0 & 0x0F);
        if ((b0 & 0x70) != 0)
        {
            return Fail(CloseCodes.ProtocolError, "reserved bits set (no extension negotiated)", out errorCode, out errorReason);
        }
        if (opcode is not (0x0 or 0x1 or 0x2 or 0x8 or 0x9 or 0xA))
        {
            return Fail(CloseCodes.ProtocolError, "unknown opcode", out errorCode, out errorReason);
        }
        if ((b1 & 0x80) == 0)
        {
            return Fail(CloseCodes.ProtocolError, "client frames must be masked", out errorCode, out errorReason);
        }
        long len = b1 & 0x7F;
        var headerLength = 2;
        if (len == 126)
        {
            if (available < 4)
            {
                return FrameParseStatus.NeedMore;
            }
            len = BinaryPrimitives.ReadUInt16BigEndian(head[2..]);
            headerLength = 4;
        }
        else if (len == 127)
        {
            if (available < 10)
            {
                return FrameParseStatus.NeedMore;
            }
            var l = BinaryPrimitives.ReadUInt64BigEndian(head[2..]);
            if (l > long.MaxValue)
            {
                return Fail(CloseCodes.ProtocolError, "invalid payload length", out errorCode, out errorReason);
            }
            len = (long)l;
            headerLength = 10;
        }
        var isControl = opcode >= 0x8;
        if (isControl && (len > 125 || !fin))
        {
            return Fail(CloseCodes.ProtocolError, "control frames must be final and at most 125 bytes", out errorCode, out errorReason);
        }
        if (!isControl && len > maxPayload)
        {
            return Fail(CloseCodes.TooBig, "message too big", out errorCode, out errorReason);
        }
        if (available < headerLength + 4)
        {
            return FrameParseStatus.NeedMore;
        }
        var mask = BinaryPrimitives.ReadUInt32LittleEndian(head[headerLength..]);
        header = new FrameHeader(fin, opcode, len, headerLength + 4, mask);
        return FrameParseStatus.Frame;
    }

    /// <summary>Unmasks <paramref name="payload"/> into <paramref name="dest"/>; <paramref name="offset"/> is the payload offset within the frame.</summary>
    public static void Unmask(in ReadOnlySequence<byte> payload, Span<byte> dest, uint maskKey, int offset = 0)
    {
        payload.CopyTo(dest);
        Unmask(dest, maskKey, offset);
    }

    public static void Unmask(Span<byte> data, uint maskKey, int offset)
    {
        // Rotate the key so that byte 0 of data uses mask byte (offset % 4).
        var shift = (offset & 3) * 8;
        var key = shift == 0 ? maskKey : (maskKey >> shift) | (maskKey << (32 - shift));
        var i = 0;
        if (data.Length >= 8)
        {
            var key64 = ((ulong)key << 32) | key;
            for (; i + 8 <= data.Length; i += 8)
            {
                var v = BinaryPrimitives.ReadUInt64LittleEndian(data[i..]);
                BinaryPrimitives.WriteUInt64LittleEndian(data[i..], v ^ key64);
            }
        }
        for (; i < data.Length; i++)
        {
            data[i] ^= (byte)(key >> ((i & 3) * 8));
        }
    }

    public static bool IsValidCloseCode(int code)
        => code is >= 1000 and <= 1003 or >= 1007 and <= 1011 or >= 3000 and <= 4999;

    private static FrameParseStatus Fail(int code, string reason, out int errorCode, out string errorReason)
    {
        errorCode = code;
        errorReason = reason;
        return FrameParseStatus.Error;
    }
}
