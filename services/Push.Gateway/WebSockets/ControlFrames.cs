using System.Buffers;
using System.Text.Json;

namespace Push.Gateway.WebSockets;

/// <summary>What a push.v1 client sent in a control message.</summary>
internal enum ClientControlKind
{
    /// <summary>Not valid JSON, or no "type": a protocol error.</summary>
    Malformed,

    /// <summary>A type this gateway does not know: ignored (forward compatibility).</summary>
    Unknown,

    /// <summary>{"type":"ack","seq":N}: every message up to N arrived.</summary>
    Ack,

    /// <summary>{"type":"ping"}: answer with a pong.</summary>
    Ping,

    /// <summary>{"type":"close"}: end for good, no resume.</summary>
    Close,
}

/// <summary>The push.v1 control messages (docs/protocol-push-v1.md): a binary frame of 0x01 and UTF-8 JSON.</summary>
internal static class ControlFrames
{
    private static readonly OutboundFrame PongFrame = Build(static w => w.WriteString("type", "pong"));

    public static OutboundFrame Pong => PongFrame;

    public static OutboundFrame Welcome(string clientId, string secret, ulong seq, bool resumed, string? resumeFailed, TimeSpan window, int ackIntervalMs, TimeSpan heartbeat)
        => Build(w =>
        {
            w.WriteString("type", "welcome");
            w.WriteString("client_id", clientId);
            w.WriteString("resume_secret", secret);
            w.WriteNumber("seq", seq);
            w.WriteBoolean("resumed", resumed);
            if (resumeFailed is not null)
            {
                w.WriteString("resume_failed", resumeFailed);
            }
            w.WriteNumber("resume_window_ms", (long)window.TotalMilliseconds);
            w.WriteNumber("ack_interval_ms", ackIntervalMs);
            w.WriteNumber("heartbeat_ms", (long)heartbeat.TotalMilliseconds);
        });

    public static OutboundFrame ResumeLost(string reason)
        => Build(w =>
        {
            w.WriteString("type", "resume_lost");
            w.WriteString("reason", reason);
        });

    private static OutboundFrame Build(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return OutboundFrame.V1ControlMessage(buffer.WrittenSpan);
    }

    /// <summary>Reads a client control message (the JSON after the 0x01 byte); <paramref name="seq"/> is set for an ack.</summary>
    public static ClientControlKind Parse(ReadOnlySpan<byte> json, out ulong seq)
    {
        seq = 0;
        string? type = null;
        var hasSeq = false;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 4 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return ClientControlKind.Malformed;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("seq"u8))
                {
                    reader.Read();
                    hasSeq = reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out seq);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return ClientControlKind.Malformed;
        }
        return type switch
        {
            null => ClientControlKind.Malformed,
            "ack" => hasSeq ? ClientControlKind.Ack : ClientControlKind.Malformed,
            "ping" => ClientControlKind.Ping,
            "close" => ClientControlKind.Close,
            _ => ClientControlKind.Unknown,
        };
    }
}
