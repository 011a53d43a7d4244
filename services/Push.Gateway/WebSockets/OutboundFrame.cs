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

    /// <summary>push.v1: first payload byte of an application binary message.</summary>
    public const byte V1Data = 0x00;

    /// <summary>push.v1: first payload byte of a control message (UTF-8 JSON follows).</summary>
    public const byte V1Control = 0x01;

    private OutboundFrame? _v1;

    private OutboundFrame(byte[] bytes, bool isClose, bool countsAsMessage, byte opcode = 0)
    {
        Bytes = bytes;
        IsClose = isClose;
        CountsAsMessage = countsAsMessage;
        Opcode = opcode;
    }

    public byte[] Bytes { get; }
    public bool IsClose { get; }
    public bool CountsAsMessage { get; }
    public int Length => Bytes.Length;

    /// <summary>WebSocket opcode of an application message (text or binary); 0 for other frames.</summary>
    public byte Opcode { get; }

    /// <summary>
    /// Id of the control-API push this frame carries (the same on every gateway a push reached; 0 when none, e.g. a
    /// worker's send). A connection that moves between gateways uses it to take each push once.
    /// </summary>
    public ulong PushId { get; set; }

    /// <summary>The application payload (after the frame header, and after the push.v1 prefix byte of a binary message).</summary>
    public ReadOnlySpan<byte> AppPayload(bool v1)
    {
        var len7 = Bytes[1] & 0x7F;
        var header = len7 < 126 ? 2 : len7 == 126 ? 4 : 10;
        var payload = Bytes.AsSpan(header);
        return v1 && Opcode == OpBinary ? payload[1..] : payload;
    }

    /// <summary>
    /// The frame as a push.v1 connection gets it: text as it is; binary with the one-byte data prefix, encoded once per
    /// frame (lazily, shared by every push.v1 connection of a fan-out).
    /// </summary>
    public OutboundFrame ForV1()
    {
        if (Opcode != OpBinary)
        {
            return this;
        }
        if (Volatile.Read(ref _v1) is { } v1)
        {
            return v1;
        }
        var payload = AppPayload(v1: false);
        var bytes = new byte[HeaderLength(payload.Length + 1) + payload.Length + 1];
        var header = HeaderLength(payload.Length + 1);
        WriteHeader(bytes, OpBinary, payload.Length + 1);
        bytes[header] = V1Data;
        payload.CopyTo(bytes.AsSpan(header + 1));
        var created = new OutboundFrame(bytes, false, true, OpBinary) { PushId = PushId };
        return Interlocked.CompareExchange(ref _v1, created, null) ?? created;
    }

    /// <summary>A push.v1 control message: a binary frame of the control prefix and UTF-8 JSON; not an application message.</summary>
    public static OutboundFrame V1ControlMessage(ReadOnlySpan<byte> json)
    {
        var bytes = new byte[HeaderLength(json.Length + 1) + json.Length + 1];
        var header = HeaderLength(json.Length + 1);
        WriteHeader(bytes, OpBinary, json.Length + 1);
        bytes[header] = V1Control;
        json.CopyTo(bytes.AsSpan(header + 1));
        return new OutboundFrame(bytes, false, false);
    }

    /// <summary>A push.v1 application message received from another gateway (a moved connection's tail): already in push.v1 form.</summary>
    public static OutboundFrame V1App(bool text, ReadOnlySpan<byte> payload, ulong pushId)
    {
        if (text)
        {
            var t = Create(OpText, payload, countsAsMessage: true);
            t.PushId = pushId;
            return t;
        }
        var bytes = new byte[HeaderLength(payload.Length + 1) + payload.Length + 1];
        var header = HeaderLength(payload.Length + 1);
        WriteHeader(bytes, OpBinary, payload.Length + 1);
        bytes[header] = V1Data;
        payload.CopyTo(bytes.AsSpan(header + 1));
        return new OutboundFrame(bytes, false, true, OpBinary) { PushId = pushId };
    }

    public static int HeaderLength(int payloadLength) => payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10;

    public static OutboundFrame Text(string text)
    {
        var count = Encoding.UTF8.GetByteCount(text);
        var header = HeaderLength(count);
        var bytes = new byte[header + count];
        WriteHeader(bytes, OpText, count);
        Encoding.UTF8.GetBytes(text, bytes.AsSpan(header));
        return new OutboundFrame(bytes, false, true, OpText);
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
        return new OutboundFrame(bytes, false, countsAsMessage, countsAsMessage ? opcode : (byte)0);
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
