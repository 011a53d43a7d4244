using System.Buffers;
using System.Text;

namespace Push.Gateway.WebSockets;

/// <summary>A parsed HTTP/1.1 request head (the WebSocket handshake, or a plain GET for the demo page).</summary>
internal sealed class HandshakeRequest
{
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();

    public required string Method { get; init; }
    public required string Target { get; init; }
    public required string Version { get; init; }
    public required List<KeyValuePair<string, string>> Headers { get; init; }

    public string Path => Target.IndexOf('?') is var i and >= 0 ? Target[..i] : Target;
    public string Query => Target.IndexOf('?') is var i and >= 0 ? Target[(i + 1)..] : string.Empty;

    public string? Header(string name)
    {
        string? value = null;
        foreach (var (k, v) in Headers)
        {
            if (string.Equals(k, name, StringComparison.OrdinalIgnoreCase))
            {
                value = value is null ? v : value + ", " + v;
            }
        }
        return value;
    }

    public bool HeaderHasToken(string name, string token)
    {
        var v = Header(name);
        if (v is null)
        {
            return false;
        }
        foreach (var part in v.Split(','))
        {
            if (string.Equals(part.Trim(), token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Copies the headers for the worker's connect event (lower-case names, repeated headers joined with ", ", cookies with "; "); the
    /// Cookie header only with <paramref name="forwardCookies"/> (Gateway:ForwardCookies).
    /// </summary>
    public void CopyHeadersTo(IDictionary<string, string> target, bool forwardCookies)
    {
        foreach (var (k, value) in Headers)
        {
            var v = value;
            if (!forwardCookies && string.Equals(k, "Cookie", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var name = k.ToLowerInvariant();
            if (name == "sec-websocket-protocol" && v.Contains(ResumeToken.Prefix, StringComparison.Ordinal))
            {
                // The resume token is a credential: workers never see it.
                v = string.Join(", ", v.Split(',').Select(t => t.Trim()).Where(t => !t.StartsWith(ResumeToken.Prefix, StringComparison.Ordinal)));
                if (v.Length == 0)
                {
                    continue;
                }
            }
            // Several Cookie lines are one cookie list ("; "), other repeated headers one comma list.
            target[name] = target.TryGetValue(name, out var existing) ? existing + (name == "cookie" ? "; " : ", ") + v : v;
        }
    }

    /// <summary>Finds the end of the request head; -1 when more data is needed.</summary>
    public static long FindHeadEnd(in ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, HeadEnd, advancePastDelimiter: true) ? reader.Consumed : -1;
    }

    /// <summary>Parses a request head (without the final CRLF CRLF); null when malformed.</summary>
    public static HandshakeRequest? Parse(ReadOnlySpan<byte> head)
    {
        var text = Encoding.Latin1.GetString(head);
        var lines = text.Split("\r\n");
        var first = lines[0].Split(' ');
        if (first.Length != 3 || first[0].Length == 0 || first[1].Length == 0 || !first[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return null;
        }
        var headers = new List<KeyValuePair<string, string>>(lines.Length);
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0)
            {
                continue;
            }
            var colon = line.IndexOf(':');
            if (colon <= 0 || line[0] is ' ' or '\t')
            {
                return null;
            }
            var name = line[..colon];
            if (name.AsSpan().IndexOfAny(' ', '\t') >= 0)
            {
                return null;
            }
            headers.Add(new(name, line[(colon + 1)..].Trim()));
        }
        return new HandshakeRequest { Method = first[0], Target = first[1], Version = first[2], Headers = headers };
    }
}
