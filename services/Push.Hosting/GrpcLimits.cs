namespace Push.Hosting;

/// <summary>
/// Largest gRPC request message each service accepts. Every port used to take 64 MiB messages from anyone; now a
/// service accepts what its calls need and no more (grpc-dotnet refuses a larger message from its 5-byte header,
/// before buffering it: RESOURCE_EXHAUSTED).
/// </summary>
internal static class GrpcLimits
{
    /// <summary>Registry, health, reflection: small requests only.</summary>
    public const int DefaultReceiveBytes = 64 * 1024;

    /// <summary>Room for a control request's fields around its payload (ids, groups, exclusions).</summary>
    public const int ControlEnvelopeBytes = 64 * 1024;

    /// <summary>A gateway-worker stream message (a batch of events or of commands) is packed up to this many bytes;
    /// a single item larger than that travels alone.</summary>
    public const int StreamBatchBytes = 4 * 1024 * 1024;

    /// <summary>Largest gateway-worker stream message either side accepts: a full batch plus one more item.</summary>
    public const int StreamReceiveBytes = 8 * 1024 * 1024;
}
