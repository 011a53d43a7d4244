namespace Push.Worker;

/// <summary>A message a client sent: text (a WebSocket text frame) or binary.</summary>
public readonly struct ClientMessage
{
    internal ClientMessage(string? text, ReadOnlyMemory<byte> binary)
    {
        Text = text;
        Binary = binary;
    }

    /// <summary>Whether the client sent a text frame.</summary>
    public bool IsText => Text is not null;

    /// <summary>The text, or null for a binary message.</summary>
    public string? Text { get; }

    /// <summary>The bytes of a binary message (empty for text).</summary>
    public ReadOnlyMemory<byte> Binary { get; }

    /// <inheritdoc/>
    public override string ToString() => Text ?? $"[{Binary.Length} bytes]";
}
