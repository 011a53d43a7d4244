using Google.Protobuf;
using Push.Gateway.WebSockets;
using Push.Hosting;

namespace Push.Gateway.Control;

/// <summary>Validates a request's `oneof data` and encodes it once as a frame.</summary>
internal static class Payload
{
    public static OutboundFrame Encode(bool isText, string? text, ByteString? binary, int maxSize, bool required = true)
    {
        if (isText)
        {
            if (string.IsNullOrEmpty(text))
            {
                throw Errors.InvalidField("text", "must not be empty");
            }
            if (text.Length > maxSize && System.Text.Encoding.UTF8.GetByteCount(text) > maxSize)
            {
                throw Errors.InvalidField("text", $"is larger than the {maxSize}-byte limit (Gateway:MaxPushSize)");
            }
            return OutboundFrame.Text(text);
        }
        if (binary is not null)
        {
            if (binary.Length == 0)
            {
                throw Errors.InvalidField("binary", "must not be empty");
            }
            if (binary.Length > maxSize)
            {
                throw Errors.InvalidField("binary", $"is larger than the {maxSize}-byte limit (Gateway:MaxPushSize)");
            }
            return OutboundFrame.Binary(binary.Span);
        }
        if (required)
        {
            throw Errors.InvalidField("data", "set either 'text' or 'binary'");
        }
        return null!;
    }
}
