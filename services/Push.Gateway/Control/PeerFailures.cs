using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Push.Gateway.Control;

/// <summary>
/// Counts and logs every failed call to a peer gateway by reason (push.gateway.peer_calls.failed{push.reason}), so a
/// cluster-wide call that misses a gateway is never silent. One log line per peer and reason every 10 seconds.
/// </summary>
internal sealed partial class PeerFailures
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);
    private readonly Counter<long> _failed;
    private readonly ConcurrentDictionary<(string Peer, string Reason), long> _lastLog = new();
    private readonly ILogger<PeerFailures> _logger;
    private readonly TimeProvider _time;

    public PeerFailures(IMeterFactory meters, ILogger<PeerFailures> logger, TimeProvider time)
    {
        _logger = logger;
        _time = time;
        _failed = meters.Create("Push.Gateway").CreateCounter<long>(
            "push.gateway.peer_calls.failed", "{call}", "Calls to peer gateways that failed, by reason (unauthenticated, permission_denied, unavailable, deadline, cancelled, other).");
    }

    /// <summary>A short reason for <paramref name="ex"/>, as counted.</summary>
    public static string Reason(Exception ex) => ex switch
    {
        RpcException { StatusCode: StatusCode.Unauthenticated } => "unauthenticated",
        RpcException { StatusCode: StatusCode.PermissionDenied } => "permission_denied",
        RpcException { StatusCode: StatusCode.Unavailable } => "unavailable",
        RpcException { StatusCode: StatusCode.DeadlineExceeded } => "deadline",
        RpcException { StatusCode: StatusCode.Cancelled } or OperationCanceledException => "cancelled",
        RpcException { StatusCode: StatusCode.ResourceExhausted } => "resource_exhausted",
        _ => "other",
    };

    public void Record(string peerId, string method, Exception ex)
    {
        var reason = Reason(ex);
        _failed.Add(1, new KeyValuePair<string, object?>("push.reason", reason));
        var now = _time.GetTimestamp();
        var key = (peerId, reason);
        if (_lastLog.Count > 4096)
        {
            _lastLog.Clear(); // gateway ids are new at every start: forget old peers rather than grow
        }
        var last = _lastLog.GetOrAdd(key, 0);
        if ((last == 0 || _time.GetElapsedTime(last, now) >= LogInterval) && _lastLog.TryUpdate(key, now, last))
        {
            var detail = ex is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : ex.Message;
            if (reason is "unauthenticated" or "permission_denied")
            {
                Log.PeerRefused(_logger, peerId, method, detail);
            }
            else
            {
                Log.PeerFailed(_logger, peerId, method, reason, detail);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3201, LogLevel.Error, "Peer gateway {PeerId} refused {Method}: {Detail}. Every gateway must share one member secret (Cluster:Secret); this gateway's answers miss that gateway's clients until it does.", EventName = "PeerRefused")]
        public static partial void PeerRefused(ILogger logger, string peerId, string method, string detail);

        [LoggerMessage(3202, LogLevel.Warning, "Peer gateway {PeerId} failed {Method} ({Reason}): {Detail}. The answer reports it as unreachable.", EventName = "PeerFailed")]
        public static partial void PeerFailed(ILogger logger, string peerId, string method, string reason, string detail);
    }
}
