using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Push.Gateway.Routing.Nats;

/// <summary>
/// What a NATS routing publication carries: a 12-byte header, the origin gateway's id and the control request exactly
/// as the API received it (protobuf). Header: version (1), kind (<see cref="RoutedKind"/>), push id (uint64 LE),
/// flags (bit 0: the push went out on more than one subject, so a gateway may receive it several times and takes it
/// once by its push id), origin id length. Built once per push and published unchanged on each target subject.
/// </summary>
internal readonly record struct NatsEnvelope(RoutedKind Kind, ulong PushId, bool Multi, string Origin, ReadOnlyMemory<byte> Request)
{
    public const byte Version = 1;
    private const int HeaderSize = 12;

    public static byte[] Encode(RoutedKind kind, ulong pushId, bool multi, string origin, Google.Protobuf.IMessage request)
    {
        var originBytes = Encoding.UTF8.GetByteCount(origin);
        if (originBytes > byte.MaxValue)
        {
            throw new ArgumentException("gateway id longer than 255 bytes", nameof(origin));
        }
        var size = request.CalculateSize();
        var buffer = new byte[HeaderSize + originBytes + size];
        buffer[0] = Version;
        buffer[1] = (byte)kind;
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(2), pushId);
        buffer[10] = multi ? (byte)1 : (byte)0;
        buffer[11] = (byte)originBytes;
        Encoding.UTF8.GetBytes(origin, buffer.AsSpan(HeaderSize));
        Google.Protobuf.MessageExtensions.WriteTo(request, buffer.AsSpan(HeaderSize + originBytes));
        return buffer;
    }

    /// <summary>Reads an envelope; false when the bytes are not one (another version, truncated).</summary>
    public static bool TryDecode(ReadOnlySequence<byte> payload, out NatsEnvelope envelope)
    {
        envelope = default;
        var bytes = payload.IsSingleSegment ? payload.First : payload.ToArray();
        var span = bytes.Span;
        if (span.Length < HeaderSize || span[0] != Version || span[1] > (byte)RoutedKind.Batch || span.Length < HeaderSize + span[11])
        {
            return false;
        }
        var origin = Encoding.UTF8.GetString(span.Slice(HeaderSize, span[11]));
        envelope = new NatsEnvelope((RoutedKind)span[1], BinaryPrimitives.ReadUInt64LittleEndian(span[2..]), (span[10] & 1) != 0, origin, bytes[(HeaderSize + span[11])..]);
        return true;
    }
}
