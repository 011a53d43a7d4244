namespace Push.ToolingTests.Infrastructure;

/// <summary>`buf curl` over cleartext HTTP/2 with server reflection: calls any RPC without proto files, like grpcurl.</summary>
internal static class BufCurl
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static Task<CommandResult> ListServicesAsync(string grpcAddress)
        => ExternalProcess.RunAsync(ExternalTools.Buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "-H", "authorization: Bearer " + Push.Testing.TestSecrets.Control, "--reflect-header", "*", "--list-services", grpcAddress], Timeout);

    /// <summary>Lists every method of every service (with reflection the URL is the base URL).</summary>
    public static Task<CommandResult> ListMethodsAsync(string grpcAddress)
        => ExternalProcess.RunAsync(ExternalTools.Buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "-H", "authorization: Bearer " + Push.Testing.TestSecrets.Control, "--reflect-header", "*", "--list-methods", grpcAddress], Timeout);

    /// <summary>Calls SERVICE/METHOD with a JSON request (protobuf JSON: lowerCamel or original field names).</summary>
    public static Task<CommandResult> CallAsync(string grpcAddress, string method, string json)
        => ExternalProcess.RunAsync(ExternalTools.Buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "-H", "authorization: Bearer " + Push.Testing.TestSecrets.Control, "--reflect-header", "*", "-d", json, $"{grpcAddress}/{method}"], Timeout);
}
