namespace Push.Worker;

/// <summary>A message a client sent: text (a WebSocket text frame) or binary.</summary>
public readonly struct ClientMessage
{
    internal ClientMessage(string? text, ReadOnlyMemory<byte> binary, bool redelivered = false)
    {
        Text = text;
        Binary = binary;
        Redelivered = redelivered;
    }

    /// <summary>
    /// True when the gateway sent this message before, to a worker whose stream ended before it acknowledged it: that
    /// worker may have handled it already (at-least-once delivery; <see cref="ClientContext.EventSequence"/> numbers it).
    /// </summary>
    public bool Redelivered { get; }

    /// <summary>Whether the client sent a text frame.</summary>
    public bool IsText => Text is not null;

    /// <summary>The text, or null for a binary message.</summary>
    public string? Text { get; }

    /// <summary>The bytes of a binary message (empty for text).</summary>
    public ReadOnlyMemory<byte> Binary { get; }

    /// <inheritdoc/>
    public override string ToString() => Text ?? $"[{Binary.Length} bytes]";
}
