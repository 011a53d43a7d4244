using System.Buffers;
using System.Buffers.Binary;
using Push.Gateway.WebSockets;

namespace Push.UnitTests;

public sealed class FrameParserTests
{
    private const uint Mask = 0x11223344;

    /// <summary>A client frame as a browser sends it: masked, FIN as given.</summary>
    private static byte[] ClientFrame(byte opcode, byte[] payload, bool fin = true, bool masked = true, byte rsv = 0)
    {
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | rsv | opcode) };
        var maskBit = (byte)(masked ? 0x80 : 0);
        if (payload.Length < 126)
        {
            header.Add((byte)(maskBit | payload.Length));
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            header.Add((byte)(maskBit | 126));
            header.AddRange([(byte)(payload.Length >> 8), (byte)payload.Length]);
        }
        else
        {
            header.Add((byte)(maskBit | 127));
            var len = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(len, (ulong)payload.Length);
            header.AddRange(len);
        }
        var body = (byte[])payload.Clone();
        if (masked)
        {
            var key = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(key, Mask);
            header.AddRange(key);
            for (var i = 0; i < body.Length; i++)
            {
                body[i] ^= key[i % 4];
            }
        }
        return [.. header, .. body];
    }

    private static FrameParseStatus Parse(byte[] bytes, out FrameHeader h, out int code, long max = 1 << 20)
        => FrameParser.TryParseHeader(new ReadOnlySequence<byte>(bytes), max, out h, out code, out _);

    [Theory]
    [InlineData(0)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    public void MaskedDataFrame_ParsesLengthAndMask_AndUnmasksToThePayload(int length)
    {
        var payload = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        var frame = ClientFrame(0x2, payload);

        Assert.Equal(FrameParseStatus.Frame, Parse(frame, out var h, out _));

        Assert.True(h.Fin);
        Assert.Equal(0x2, h.Opcode);
        Assert.Equal(length, h.PayloadLength);
        Assert.Equal(frame.Length - length, h.HeaderLength);
        Assert.Equal(Mask, h.MaskKey);
        var data = new byte[length];
        FrameParser.Unmask(new ReadOnlySequence<byte>(frame, h.HeaderLength, length), data, h.MaskKey);
        Assert.Equal(payload, data);
    }

    [Fact]
    public void Unmask_InPiecesWithOffsets_EqualsUnmaskingAtOnce()
    {
        var payload = Enumerable.Range(0, 37).Select(i => (byte)(i * 7)).ToArray();
        var frame = ClientFrame(0x1, payload);
        Parse(frame, out var h, out _);
        var masked = frame.AsSpan(h.HeaderLength).ToArray();

        FrameParser.Unmask(masked.AsSpan(0, 5), h.MaskKey, 0);
        FrameParser.Unmask(masked.AsSpan(5, 13), h.MaskKey, 5);
        FrameParser.Unmask(masked.AsSpan(18), h.MaskKey, 18);

        Assert.Equal(payload, masked);
    }

    [Fact]
    public void IncompleteHeader_NeedsMore_AtEveryCut()
    {
        var frame = ClientFrame(0x1, new byte[300]); // 2 + 2 (length) + 4 (mask) header bytes
        for (var cut = 0; cut < 8; cut++)
        {
            Assert.Equal(FrameParseStatus.NeedMore, Parse(frame[..cut], out _, out _));
        }
        Assert.Equal(FrameParseStatus.Frame, Parse(frame[..8], out var h, out _)); // the header is enough
        Assert.Equal(300, h.PayloadLength);
    }

    [Fact]
    public void HeaderSplitOverSegments_Parses()
    {
        var frame = ClientFrame(0x1, new byte[200]);
        var first = new Segment(frame.AsMemory(0, 3));
        var last = first.Append(frame.AsMemory(3));

        var status = FrameParser.TryParseHeader(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length), 1 << 20, out var h, out _, out _);

        Assert.Equal(FrameParseStatus.Frame, status);
        Assert.Equal(200, h.PayloadLength);
        Assert.Equal(Mask, h.MaskKey);
    }

    [Fact]
    public void UnmaskedClientFrame_IsProtocolError()
    {
        Assert.Equal(FrameParseStatus.Error, Parse(ClientFrame(0x1, [1, 2], masked: false), out _, out var code));
        Assert.Equal(CloseCodes.ProtocolError, code);
    }

    [Theory]
    [InlineData(0x40)]
    [InlineData(0x20)]
    [InlineData(0x10)]
    public void ReservedBits_AreProtocolError(byte rsv)
    {
        Assert.Equal(FrameParseStatus.Error, Parse(ClientFrame(0x1, [1], rsv: rsv), out _, out var code));
        Assert.Equal(CloseCodes.ProtocolError, code);
    }

    [Theory]
    [InlineData(0x3)]
    [InlineData(0x7)]
    [InlineData(0xB)]
    [InlineData(0xF)]
    public void UnknownOpcode_IsProtocolError(byte opcode)
    {
        Assert.Equal(FrameParseStatus.Error, Parse(ClientFrame(opcode, [1]), out _, out var code));
        Assert.Equal(CloseCodes.ProtocolError, code);
    }

    [Fact]
    public void ControlFrames_MustBeFinalAndAtMost125Bytes()
    {
        Assert.Equal(FrameParseStatus.Frame, Parse(ClientFrame(0x9, new byte[125]), out _, out _));
        Assert.Equal(FrameParseStatus.Error, Parse(ClientFrame(0x9, new byte[126]), out _, out var big));
        Assert.Equal(FrameParseStatus.Error, Parse(ClientFrame(0x8, [3, 232], fin: false), out _, out var fragmented));
        Assert.Equal(CloseCodes.ProtocolError, big);
        Assert.Equal(CloseCodes.ProtocolError, fragmented);
    }

    [Fact]
    public void DataFrameOverTheLimit_IsTooBig_FromTheHeaderAlone()
    {
        var frame = ClientFrame(0x2, new byte[1001]);

        Assert.Equal(FrameParseStatus.Error, Parse(frame[..8], out _, out var code, max: 1000));
        Assert.Equal(CloseCodes.TooBig, code);
        Assert.Equal(FrameParseStatus.Frame, Parse(frame, out _, out _, max: 1001));
    }

    [Fact]
    public void SixtyFourBitLengthWithTheTopBitSet_IsProtocolError()
    {
        byte[] frame = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4];
        Assert.Equal(FrameParseStatus.Error, Parse(frame, out _, out var code, max: long.MaxValue));
        Assert.Equal(CloseCodes.ProtocolError, code);
    }

    [Theory]
    [InlineData(1000, true)]
    [InlineData(1003, true)]
    [InlineData(1004, false)]
    [InlineData(1005, false)]
    [InlineData(1006, false)]
    [InlineData(1007, true)]
    [InlineData(1011, true)]
    [InlineData(1015, false)]
    [InlineData(2999, false)]
    [InlineData(3000, true)]
    [InlineData(4999, true)]
    [InlineData(5000, false)]
    [InlineData(999, false)]
    public void IsValidCloseCode_FollowsRfc6455(int code, bool valid)
        => Assert.Equal(valid, FrameParser.IsValidCloseCode(code));

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
