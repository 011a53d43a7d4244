namespace Push.Gateway.Connections;

/// <summary>What became of a frame handed to <see cref="ClientConnection.TrySend"/>.</summary>
internal enum SendResult
{
    /// <summary>In the send queue.</summary>
    Queued,

    /// <summary>The connection is closing or closed: nothing was queued.</summary>
    Closing,

    /// <summary>The send queue was full: the client was closed as a slow consumer (4001), nothing was queued.</summary>
    QueueFull,

    /// <summary>A resumable connection's retained tail (or the gateway's resume budget) was full while nobody was attached: the connection ended.</summary>
    ResumeOverflow,
}
