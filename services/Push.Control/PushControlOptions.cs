namespace Push.Control;

/// <summary>Options of <see cref="PushControlClient"/>.</summary>
public sealed class PushControlOptions
{
    /// <summary>The cluster's shared secret, sent as "authorization: Bearer SECRET" (null: none).</summary>
    public string? Secret { get; set; }

    /// <summary>Deadline of each call (null: none).</summary>
    public TimeSpan? Timeout { get; set; } = TimeSpan.FromSeconds(10);
}
