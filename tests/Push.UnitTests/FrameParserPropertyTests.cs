using System.Buffers;
using System.Buffers.Binary;
using CsCheck;
using Push.Gateway.WebSockets;
using Xunit.Abstractions;

namespace Push.UnitTests;

/// <summary>Properties of the client frame parser: it never throws, whatever the bytes and however they are split.</summary>
public sealed class FrameParserPropertyTests(ITestOutputHelper output)
{
    private static readonly byte[] Opcodes = [0x0, 0x1, 0x2, 0x8, 0x9, 0xA];

    /// <summary>A valid client frame: (fin, opcode, payload, mask key).</summary>
    private static readonly Gen<(bool Fin, byte Opcode, byte[] Payload, uint Mask)> ValidFrame =
        Gen.Select(Gen.Int[0, Opcodes.Length - 1], Gen.Bool, Gen.UInt, Gen.Frequency(
            (8, Gen.Byte.Array[0, 300]),
            (1, Gen.Byte.Array[60_000, 70_000])))
        .Select(t =>
        {
            var opcode = Opcodes[t.Item1];
            var control = opcode >= 0x8;
            var payload = control && t.Item4.Length > 125 ? t.Item4[..125] : t.Item4;
            return (Fin: control || t.Item2, Opcode: opcode, Payload: payload, Mask: t.Item3);
        });

    private static readonly Gen<int[]> Splits = Gen.Int[1, 20].Array[0, 4];

    [Fact]
    public void RandomBytes_NeverThrow_AndResultsAreConsistent()
    {
        var counts = new int[3];
        Gen.Select(Gen.Byte.Array[0, 40], Gen.Int[125, 1 << 20], Splits, Gen.Bool).Sample((bytes, max, splits, plausible) =>
        {
            if (plausible && bytes.Length >= 2)
            {
                // Half of the inputs look like real client frames: no reserved bits, mask bit set.
                bytes[0] &= 0x8F;
                bytes[1] |= 0x80;
            }
            var whole = new ReadOnlySequence<byte>(bytes);
            var status = FrameParser.TryParseHeader(whole, max, out var h, out var code, out var reason);
            Interlocked.Increment(ref counts[(int)status]);
            // The same bytes split over several segments give the same answer.
            var split = Segments.Split(bytes, splits);
            var status2 = FrameParser.TryParseHeader(split, max, out var h2, out var code2, out _);
            Assert.Equal(status, status2);
            Assert.Equal(h, h2);
            Assert.Equal(code, code2);
            switch (status)
            {
                case FrameParseStatus.Frame:
                    Assert.Contains(h.HeaderLength, new[] { 6, 8, 14 });
                    Assert.True(h.HeaderLength <= bytes.Length);
                    Assert.Contains(h.Opcode, Opcodes);
                    Assert.True(h.PayloadLength >= 0);
                    if (h.Opcode >= 0x8)
                    {
                        Assert.True(h.Fin && h.PayloadLength <= 125);
                    }
                    else
                    {
                        Assert.True(h.PayloadLength <= max);
                    }
                    break;
                case FrameParseStatus.Error:
                    Assert.Contains(code, new[] { CloseCodes.ProtocolError, CloseCodes.TooBig });
                    Assert.False(string.IsNullOrEmpty(reason));
                    break;
                default:
                    Assert.True(bytes.Length < 14, "a complete header is at most 14 bytes");
                    break;
            }
        }, iter: 20_000);
        output.WriteLine($"fuzz: 20000 random frame headers: {counts[(int)FrameParseStatus.Frame]} frames, {counts[(int)FrameParseStatus.Error]} errors, {counts[(int)FrameParseStatus.NeedMore]} incomplete");
    }

    [Fact]
    public void ValidFrames_RoundTrip_InAnySplit()
    {
        var iterations = 0;
        Gen.Select(ValidFrame, Splits).Sample((frame, splits) =>
        {
            Interlocked.Increment(ref iterations);
            var bytes = Build(frame.Fin, frame.Opcode, frame.Payload, frame.Mask);
            var seq = Segments.Split(bytes, splits);
            Assert.Equal(FrameParseStatus.Frame, FrameParser.TryParseHeader(seq, 1 << 20, out var h, out _, out _));
            Assert.Equal(frame.Fin, h.Fin);
            Assert.Equal(frame.Opcode, h.Opcode);
            Assert.Equal(frame.Payload.Length, h.PayloadLength);
            Assert.Equal(bytes.Length, h.HeaderLength + h.PayloadLength);
            var unmasked = new byte[h.PayloadLength];
            FrameParser.Unmask(seq.Slice(h.HeaderLength), unmasked, h.MaskKey);
            Assert.Equal(frame.Payload, unmasked);

            // Every strict prefix of the header asks for more bytes.
            for (var i = 0; i < h.HeaderLength; i++)
            {
                Assert.Equal(FrameParseStatus.NeedMore, FrameParser.TryParseHeader(new ReadOnlySequence<byte>(bytes, 0, i), 1 << 20, out _, out _, out _));
            }
        }, iter: 2_000);
        output.WriteLine($"fuzz: {iterations} valid frames round-tripped");
    }

    [Fact]
    public void Unmask_InPieces_EqualsUnmaskInOneGo()
    {
        Gen.Select(Gen.Byte.Array[0, 200], Gen.UInt, Gen.Int[0, 200]).Sample((data, key, cut) =>
        {
            cut = Math.Min(cut, data.Length);
            var whole = data.ToArray();
            FrameParser.Unmask(whole, key, 0);
            var pieces = data.ToArray();
            FrameParser.Unmask(pieces.AsSpan(0, cut), key, 0);
            FrameParser.Unmask(pieces.AsSpan(cut), key, cut);
            Assert.Equal(whole, pieces);
            // Masking twice restores the data.
            FrameParser.Unmask(whole, key, 0);
            Assert.Equal(data, whole);
        }, iter: 5_000);
    }

    private static byte[] Build(bool fin, byte opcode, byte[] payload, uint maskKey)
    {
        var ext = payload.Length < 126 ? 0 : payload.Length <= ushort.MaxValue ? 2 : 8;
        var bytes = new byte[2 + ext + 4 + payload.Length];
        bytes[0] = (byte)((fin ? 0x80 : 0) | opcode);
        bytes[1] = (byte)(0x80 | (ext == 0 ? payload.Length : ext == 2 ? 126 : 127));
        if (ext == 2)
        {
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), (ushort)payload.Length);
        }
        else if (ext == 8)
        {
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(2), (ulong)payload.Length);
        }
        var m = 2 + ext;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(m), maskKey);
        for (var i = 0; i < payload.Length; i++)
        {
            bytes[m + 4 + i] = (byte)(payload[i] ^ bytes[m + (i & 3)]);
        }
        return bytes;
    }

    /// <summary>Builds multi-segment sequences.</summary>
    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long index)
        {
            Memory = memory;
            RunningIndex = index;
        }

        public static ReadOnlySequence<byte> Split(byte[] bytes, int[] sizes)
        {
            if (sizes.Length == 0 || bytes.Length == 0)
            {
                return new ReadOnlySequence<byte>(bytes);
            }
            var pos = 0;
            var first = new Segments(bytes.AsMemory(0, Math.Min(sizes[0], bytes.Length)), 0);
            pos = first.Memory.Length;
            var last = first;
            for (var i = 1; pos < bytes.Length; i++)
            {
                var size = i < sizes.Length ? sizes[i] : bytes.Length - pos;
                var next = new Segments(bytes.AsMemory(pos, Math.Min(size, bytes.Length - pos)), pos);
                last.Next = next;
                last = next;
                pos += next.Memory.Length;
            }
            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
