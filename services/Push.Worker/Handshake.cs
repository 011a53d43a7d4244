namespace Push.Worker;

/// <summary>The WebSocket handshake of a client (GatewayWorker's $data in onWebSocketConnect).</summary>
public sealed class Handshake
{
    /// <summary>Request path, e.g. "/chat".</summary>
    public required string Path { get; init; }

    /// <summary>Raw query string without '?'.</summary>
    public required string QueryString { get; init; }

    /// <summary>Request headers, lower-case names.</summary>
    public required IReadOnlyDictionary<string, string> Headers { get; init; }

    /// <summary>Client IP address.</summary>
    public required string RemoteAddress { get; init; }

    /// <summary>Client TCP port.</summary>
    public required int RemotePort { get; init; }

    /// <summary>The gateway endpoint that accepted the client.</summary>
    public required string GatewayEndpoint { get; init; }

    /// <summary>The query string's parameters (first value per name), like PHP's $_GET.</summary>
    public IReadOnlyDictionary<string, string> Query
    {
        get
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var part in QueryString.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = part.IndexOf('=');
                var key = Uri.UnescapeDataString((eq < 0 ? part : part[..eq]).Replace('+', ' '));
                var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '));
                result.TryAdd(key, value);
            }
            return result;
        }
    }
}
