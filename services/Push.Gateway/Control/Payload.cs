using Google.Protobuf;
using Push.Gateway.WebSockets;
using Push.Hosting;

namespace Push.Gateway.Control;

/// <summary>Validates a request's `oneof data` and encodes it once as a frame.</summary>
internal static class Payload
{
    /// <param name="field">Prefix of the field names in errors, e.g. "items[2]." for a batch item.</param>
    public static OutboundFrame Encode(bool isText, string? text, ByteString? binary, int maxSize, bool required = true, string field = "")
    {
        if (isText)
        {
            if (string.IsNullOrEmpty(text))
            {
                throw Errors.InvalidField(field + "text", "must not be empty");
            }
            // A UTF-8 char takes 1 to 3 bytes (a surrogate pair 4 for 2 chars): count bytes only when it can matter.
            if (text.Length > maxSize || (text.Length * 3L > maxSize && System.Text.Encoding.UTF8.GetByteCount(text) > maxSize))
            {
                throw Errors.InvalidField(field + "text", $"is larger than the {maxSize}-byte limit (Gateway:MaxPushSize)");
            }
            return OutboundFrame.Text(text);
        }
        if (binary is not null)
        {
            if (binary.Length == 0)
            {
                throw Errors.InvalidField(field + "binary", "must not be empty");
            }
            if (binary.Length > maxSize)
            {
                throw Errors.InvalidField(field + "binary", $"is larger than the {maxSize}-byte limit (Gateway:MaxPushSize)");
            }
            return OutboundFrame.Binary(binary.Span);
        }
        if (required)
        {
            throw Errors.InvalidField(field + "data", "set either 'text' or 'binary'");
        }
        return null!;
    }
}
