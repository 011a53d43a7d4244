using System.Text;
using Google.Protobuf.Collections;
using Grpc.Core;
using Push.V1;

namespace Push.Bench.Limit;

/// <summary>
/// The limit's control API: the push.v1.GatewayService calls the benchmark uses. Every payload is encoded and
/// framed once and the same frame is queued to every target; a SendBatch run of consecutive items with the same
/// target (everyone, or the same groups) is queued to each connection in one step (one lock), and its writer sends
/// whatever is queued in one write, so a whole burst sent in one call costs each connection about one socket write.
/// </summary>
public sealed class LimitGateway(LimitHub hub) : GatewayService.GatewayServiceBase
{
    private static byte[] Frame(string text, Google.Protobuf.ByteString binary) =>
        binary.IsEmpty ? LimitConn.Frame(0x1, Encoding.UTF8.GetBytes(text)) : LimitConn.Frame(0x2, binary.Span);

    private long ToAll(ReadOnlyMemory<byte>[] frames, ICollection<string> exclude)
    {
        long n = 0;
        foreach (var c in hub.Clients.Values)
        {
            if ((exclude.Count == 0 || !exclude.Contains(c.Id)) && Enqueue(c, frames))
            {
                n += frames.Length;
            }
        }
        return n;
    }

    private bool Enqueue(LimitConn c, ReadOnlyMemory<byte>[] frames) =>
        frames.Length == 1 ? hub.Enqueue(c, frames[0], 1) : hub.EnqueueMany(c, frames);

    private long ToGroups(ReadOnlyMemory<byte>[] frames, RepeatedField<string> groups, ICollection<string> exclude)
    {
        long n = 0;
        HashSet<string>? seen = groups.Count > 1 ? new(StringComparer.Ordinal) : null;
        foreach (string g in groups)
        {
            if (!hub.Groups.TryGetValue(g, out var members))
            {
                continue;
            }
            foreach (var c in members.Values)
            {
                if ((exclude.Count == 0 || !exclude.Contains(c.Id)) && (seen is null || seen.Add(c.Id)) && Enqueue(c, frames))
                {
                    n += frames.Length;
                }
            }
        }
        return n;
    }

    private long ToClient(ReadOnlyMemory<byte> frame, string id) =>
        hub.Clients.TryGetValue(id, out var c) && hub.Enqueue(c, frame, 1) ? 1 : 0;

    private long ToUids(ReadOnlyMemory<byte> frame, IList<string> uids)
    {
        long n = 0;
        foreach (string uid in uids)
        {
            if (hub.Uids.TryGetValue(uid, out var c) && hub.Enqueue(c, frame, 1))
            {
                n++;
            }
        }
        return n;
    }

    public override Task<SendToAllResponse> SendToAll(SendToAllRequest request, ServerCallContext context) =>
        Task.FromResult(new SendToAllResponse { Delivered = ToAll([Frame(request.Text, request.Binary)], ExcludeSet(request.ExcludeClientIds)) });

    public override Task<SendToGroupResponse> SendToGroup(SendToGroupRequest request, ServerCallContext context) =>
        Task.FromResult(new SendToGroupResponse { Delivered = ToGroups([Frame(request.Text, request.Binary)], request.Groups, ExcludeSet(request.ExcludeClientIds)) });

    public override Task<SendToClientResponse> SendToClient(SendToClientRequest request, ServerCallContext context) =>
        Task.FromResult(new SendToClientResponse { Delivered = ToClient(Frame(request.Text, request.Binary), request.ClientId) });

    public override Task<SendToUidResponse> SendToUid(SendToUidRequest request, ServerCallContext context) =>
        Task.FromResult(new SendToUidResponse { Delivered = ToUids(Frame(request.Text, request.Binary), request.Uids) });

    public override Task<SendBatchResponse> SendBatch(SendBatchRequest request, ServerCallContext context)
    {
        long n = 0;
        var none = Array.Empty<string>();
        var items = request.Items;
        for (int i = 0; i < items.Count;)
        {
            var item = items[i];
            if (item.ClientId.Length > 0)
            {
                n += ToClient(Frame(item.Text, item.Binary), item.ClientId);
                i++;
                continue;
            }
            if (item.Uids.Count > 0)
            {
                n += ToUids(Frame(item.Text, item.Binary), item.Uids);
                i++;
                continue;
            }
            // A run of broadcast items to the same target: each framed once, queued to each connection in one step.
            int end = i + 1;
            while (end < items.Count && SameBroadcast(item, items[end]))
            {
                end++;
            }
            var frames = Frames(items, i, end);
            n += item.All ? ToAll(frames, none) : item.Groups.Count > 0 ? ToGroups(frames, item.Groups, none) : 0;
            i = end;
        }
        return Task.FromResult(new SendBatchResponse { Delivered = n });
    }

    private static bool SameBroadcast(BatchItem a, BatchItem b) =>
        b.ClientId.Length == 0 && b.Uids.Count == 0 && a.All == b.All && (a.All || SameGroups(a.Groups, b.Groups));

    private static bool SameGroups(RepeatedField<string> a, RepeatedField<string> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }
        for (int i = 0; i < a.Count; i++)
        {
            if (!string.Equals(a[i], b[i], StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    private static ReadOnlyMemory<byte>[] Frames(RepeatedField<BatchItem> items, int from, int to)
    {
        var frames = new ReadOnlyMemory<byte>[to - from];
        for (int i = from; i < to; i++)
        {
            frames[i - from] = Frame(items[i].Text, items[i].Binary);
        }
        return frames;
    }

    public override Task<JoinGroupResponse> JoinGroup(JoinGroupRequest request, ServerCallContext context)
    {
        if (!hub.Clients.TryGetValue(request.ClientId, out var c))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "client not found"));
        }
        hub.Groups.GetOrAdd(request.Group, static _ => new(StringComparer.Ordinal))[c.Id] = c;
        lock (c)
        {
            c.Groups ??= [];
        }
        lock (c.Groups)
        {
            if (!c.Groups.Contains(request.Group))
            {
                c.Groups.Add(request.Group);
            }
        }
        return Task.FromResult(new JoinGroupResponse());
    }

    public override Task<BindUidResponse> BindUid(BindUidRequest request, ServerCallContext context)
    {
        if (!hub.Clients.TryGetValue(request.ClientId, out var c))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "client not found"));
        }
        c.Uid = request.Uid;
        hub.Uids[request.Uid] = c;
        return Task.FromResult(new BindUidResponse());
    }

    public override Task<GetAllClientCountResponse> GetAllClientCount(GetAllClientCountRequest request, ServerCallContext context) =>
        Task.FromResult(new GetAllClientCountResponse { Count = hub.Clients.Count });

    public override Task<GetAllClientIdListResponse> GetAllClientIdList(GetAllClientIdListRequest request, ServerCallContext context)
    {
        var response = new GetAllClientIdListResponse();
        response.ClientIds.AddRange(hub.Clients.Keys);
        return Task.FromResult(response);
    }

    public override Task<GetStatusResponse> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        var response = new GetStatusResponse();
        response.Gateways.Add(new GatewayStatus
        {
            Id = "limit",
            Connections = hub.Clients.Count,
            Groups = hub.Groups.Count,
            Uids = hub.Uids.Count,
            MessagesDropped = hub.Dropped,
        });
        return Task.FromResult(response);
    }

    private static ICollection<string> ExcludeSet(RepeatedField<string> ids) =>
        ids.Count == 0 ? Array.Empty<string>() : new HashSet<string>(ids, StringComparer.Ordinal);
}
