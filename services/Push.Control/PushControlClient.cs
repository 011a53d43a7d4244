using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Push.V1;

namespace Push.Control;

/// <summary>
/// Client of the Push.Grpc control API with GatewayClient's method names. Call any gateway: the call acts on the
/// whole cluster. Errors surface as <see cref="RpcException"/> (INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE...).
/// For every other operation use <see cref="Raw"/>, the generated client.
/// </summary>
public sealed class PushControlClient : IDisposable
{
    private readonly GatewayService.GatewayServiceClient _client;
    private readonly GrpcChannel? _channel;
    private readonly TimeSpan? _timeout;

    /// <summary>Connects to a gateway's gRPC address, e.g. "http://127.0.0.1:8283".</summary>
    public PushControlClient(string address, PushControlOptions? options = null)
    {
        options ??= new PushControlOptions();
        if (!address.Contains("://", StringComparison.Ordinal))
        {
            address = "http://" + address;
        }
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });
        _client = new GatewayService.GatewayServiceClient(BearerCredentials.Apply(_channel.CreateCallInvoker(), options.Secret));
        _timeout = options.Timeout;
    }

    /// <summary>Wraps an existing call invoker (credentials and interceptors are the caller's).</summary>
    public PushControlClient(CallInvoker invoker, PushControlOptions? options = null)
    {
        _client = new GatewayService.GatewayServiceClient(BearerCredentials.Apply(invoker, options?.Secret));
        _timeout = options?.Timeout;
    }


    /// <summary>The generated client, for every operation (batch sends, drain, cluster reach details...).</summary>
    public GatewayService.GatewayServiceClient Raw => _client;

    private CallOptions Options(CancellationToken cancellationToken)
        => new(null, _timeout is { } t ? DateTime.UtcNow + t : null, cancellationToken);

    /// <summary>Sends a message to one client; returns 1 when it was handed to the connection. (text frame)</summary>
    public async Task<long> SendToClientAsync(string clientId, string message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToClientAsync(new SendToClientRequest { ClientId = clientId, Text = message }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a message to one client; returns 1 when it was handed to the connection. (binary frame)</summary>
    public async Task<long> SendToClientAsync(string clientId, byte[] message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToClientAsync(new SendToClientRequest { ClientId = clientId, Binary = ByteString.CopyFrom(message) }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a message to every connection bound to any of the uids; returns how many got it. (text frame)</summary>
    public async Task<long> SendToUidAsync(IEnumerable<string> uids, string message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToUidAsync(new SendToUidRequest { Uids = { uids }, Text = message }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a message to every connection bound to any of the uids; returns how many got it. (binary frame)</summary>
    public async Task<long> SendToUidAsync(IEnumerable<string> uids, byte[] message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToUidAsync(new SendToUidRequest { Uids = { uids }, Binary = ByteString.CopyFrom(message) }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a message to every member of any of the groups; returns how many got it. (text frame)</summary>
    public async Task<long> SendToGroupAsync(IEnumerable<string> groups, string message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToGroupAsync(new SendToGroupRequest { Groups = { groups }, Text = message }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a message to every member of any of the groups; returns how many got it. (binary frame)</summary>
    public async Task<long> SendToGroupAsync(IEnumerable<string> groups, byte[] message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToGroupAsync(new SendToGroupRequest { Groups = { groups }, Binary = ByteString.CopyFrom(message) }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a message to every client of the cluster; returns how many got it. (text frame)</summary>
    public async Task<long> SendToAllAsync(string message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToAllAsync(new SendToAllRequest { Text = message }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a message to every client of the cluster; returns how many got it. (binary frame)</summary>
    public async Task<long> SendToAllAsync(byte[] message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToAllAsync(new SendToAllRequest { Binary = ByteString.CopyFrom(message) }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>
    /// Sends a message to every client of the cluster except <paramref name="excludeClientIds"/> (an empty list
    /// excludes nobody). A separate name, so a call that once passed a recipient list to SendToAllAsync does not compile
    /// as an exclusion list. (text frame)
    /// </summary>
    public async Task<long> SendToAllExceptAsync(IEnumerable<string> excludeClientIds, string message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToAllAsync(new SendToAllRequest { ExcludeClientIds = { excludeClientIds }, Text = message }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a message to every client of the cluster except <paramref name="excludeClientIds"/>. (binary frame)</summary>
    public async Task<long> SendToAllExceptAsync(IEnumerable<string> excludeClientIds, byte[] message, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToAllAsync(new SendToAllRequest { ExcludeClientIds = { excludeClientIds }, Binary = ByteString.CopyFrom(message) }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>
    /// Sends a message to the listed clients minus <paramref name="excludeClientIds"/>; returns how many got it. An id
    /// named twice gets it once. (text frame)
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="clientIds"/> is empty: an empty list never means everyone
    /// (use <see cref="SendToAllAsync(string, CancellationToken)"/>); nothing is sent.</exception>
    public async Task<long> SendToClientsAsync(IEnumerable<string> clientIds, string message, IEnumerable<string>? excludeClientIds = null, CancellationToken cancellationToken = default)
    {
        var request = new SendToClientsRequest { Text = message };
        Recipients(request, clientIds, excludeClientIds);
        var r = await _client.SendToClientsAsync(request, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a message to the listed clients minus <paramref name="excludeClientIds"/>. (binary frame)</summary>
    /// <exception cref="ArgumentException"><paramref name="clientIds"/> is empty; nothing is sent.</exception>
    public async Task<long> SendToClientsAsync(IEnumerable<string> clientIds, byte[] message, IEnumerable<string>? excludeClientIds = null, CancellationToken cancellationToken = default)
    {
        var request = new SendToClientsRequest { Binary = ByteString.CopyFrom(message) };
        Recipients(request, clientIds, excludeClientIds);
        var r = await _client.SendToClientsAsync(request, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    private static void Recipients(SendToClientsRequest request, IEnumerable<string> clientIds, IEnumerable<string>? excludeClientIds)
    {
        ArgumentNullException.ThrowIfNull(clientIds);
        request.ClientIds.AddRange(clientIds);
        if (request.ClientIds.Count == 0)
        {
            throw new ArgumentException("SendToClients needs at least one client id; an empty list never means everyone (use SendToAllAsync).", nameof(clientIds));
        }
        if (excludeClientIds is not null)
        {
            request.ExcludeClientIds.AddRange(excludeClientIds);
        }
    }

    /// <summary>Sends a text message to the groups' members except <paramref name="excludeClientIds"/>.</summary>
    public async Task<long> SendToGroupAsync(IEnumerable<string> groups, string message, IEnumerable<string> excludeClientIds, CancellationToken cancellationToken = default)
    {
        var r = await _client.SendToGroupAsync(new SendToGroupRequest { Groups = { groups }, Text = message, ExcludeClientIds = { excludeClientIds } }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Delivered;
    }

    /// <summary>Sends a text message to one uid.</summary>
    public async Task<long> SendToUidAsync(string uid, string message, CancellationToken cancellationToken = default)
    {
        return await SendToUidAsync([uid], message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a text message to one group.</summary>
    public async Task<long> SendToGroupAsync(string group, string message, CancellationToken cancellationToken = default)
    {
        return await SendToGroupAsync([group], message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Binds a client to a uid.</summary>
    public async Task BindUidAsync(string clientId, string uid, CancellationToken cancellationToken = default)
    {
        await _client.BindUidAsync(new BindUidRequest { ClientId = clientId, Uid = uid }, Options(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Removes a client's uid binding.</summary>
    public async Task UnbindUidAsync(string clientId, string uid, CancellationToken cancellationToken = default)
    {
        await _client.UnbindUidAsync(new UnbindUidRequest { ClientId = clientId, Uid = uid }, Options(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Adds a client to a group.</summary>
    public async Task JoinGroupAsync(string clientId, string group, CancellationToken cancellationToken = default)
    {
        await _client.JoinGroupAsync(new JoinGroupRequest { ClientId = clientId, Group = group }, Options(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Removes a client from a group.</summary>
    public async Task LeaveGroupAsync(string clientId, string group, CancellationToken cancellationToken = default)
    {
        await _client.LeaveGroupAsync(new LeaveGroupRequest { ClientId = clientId, Group = group }, Options(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Closes a client at once, discarding what is queued for it.</summary>
    public async Task DestroyClientAsync(string clientId, CancellationToken cancellationToken = default)
    {
        await _client.DestroyClientAsync(new DestroyClientRequest { ClientId = clientId }, Options(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Dissolves a group on every gateway.</summary>
    public async Task UngroupAsync(string group, CancellationToken cancellationToken = default)
    {
        await _client.UngroupAsync(new UngroupRequest { Group = group }, Options(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Closes a client, optionally after a last text message.</summary>
    public async Task CloseClientAsync(string clientId, string? message = null, CancellationToken cancellationToken = default)
    {
        var request = new CloseClientRequest { ClientId = clientId };
        if (message is not null)
        {
            request.Text = message;
        }
        await _client.CloseClientAsync(request, Options(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Replaces a client's session.</summary>
    public async Task SetSessionAsync(string clientId, IDictionary<string, string> session, CancellationToken cancellationToken = default)
    {
        await _client.SetSessionAsync(new SetSessionRequest { ClientId = clientId, Session = { session } }, Options(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Merges entries into a client's session.</summary>
    public async Task UpdateSessionAsync(string clientId, IDictionary<string, string> session, CancellationToken cancellationToken = default)
    {
        await _client.UpdateSessionAsync(new UpdateSessionRequest { ClientId = clientId, Session = { session } }, Options(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Returns a client's session.</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetSessionAsync(string clientId, CancellationToken cancellationToken = default)
    {
        var r = await _client.GetSessionAsync(new GetSessionRequest { ClientId = clientId }, Options(cancellationToken)).ConfigureAwait(false);
        return r.Session;
    }

    /// <summary>Whether a client id is connected.</summary>
    public async Task<bool> IsOnlineAsync(string clientId, CancellationToken cancellationToken = default)
    {
        return (await _client.IsOnlineAsync(new IsOnlineRequest { ClientId = clientId }, Options(cancellationToken)).ConfigureAwait(false)).Online;
    }

    /// <summary>Whether any connection is bound to the uid.</summary>
    public async Task<bool> IsUidOnlineAsync(string uid, CancellationToken cancellationToken = default)
    {
        return (await _client.IsUidOnlineAsync(new IsUidOnlineRequest { Uid = uid }, Options(cancellationToken)).ConfigureAwait(false)).Online;
    }

    /// <summary>Client ids bound to a uid.</summary>
    public async Task<IReadOnlyList<string>> GetClientIdByUidAsync(string uid, CancellationToken cancellationToken = default)
    {
        return (await _client.GetClientIdByUidAsync(new GetClientIdByUidRequest { Uid = uid }, Options(cancellationToken)).ConfigureAwait(false)).ClientIds;
    }

    /// <summary>The uid a client is bound to, or null.</summary>
    public async Task<string?> GetUidByClientIdAsync(string clientId, CancellationToken cancellationToken = default)
    {
        var uid = (await _client.GetUidByClientIdAsync(new GetUidByClientIdRequest { ClientId = clientId }, Options(cancellationToken)).ConfigureAwait(false)).Uid;
        return uid.Length == 0 ? null : uid;
    }

    /// <summary>Client ids of a group.</summary>
    public async Task<IReadOnlyList<string>> GetClientIdListByGroupAsync(string group, CancellationToken cancellationToken = default)
    {
        return (await _client.GetClientIdListByGroupAsync(new GetClientIdListByGroupRequest { Group = group }, Options(cancellationToken)).ConfigureAwait(false)).ClientIds;
    }

    /// <summary>Sessions of a group's members, by client id.</summary>
    public async Task<IReadOnlyDictionary<string, Session>> GetClientSessionsByGroupAsync(string group, CancellationToken cancellationToken = default)
    {
        return (await _client.GetClientSessionsByGroupAsync(new GetClientSessionsByGroupRequest { Group = group }, Options(cancellationToken)).ConfigureAwait(false)).Sessions;
    }

    /// <summary>Members of a group (an empty group counts every client).</summary>
    public async Task<long> GetClientCountByGroupAsync(string group, CancellationToken cancellationToken = default)
    {
        return (await _client.GetClientCountByGroupAsync(new GetClientCountByGroupRequest { Group = group }, Options(cancellationToken)).ConfigureAwait(false)).Count;
    }

    /// <summary>Connected clients in the cluster.</summary>
    public async Task<long> GetAllClientCountAsync(CancellationToken cancellationToken = default)
    {
        return (await _client.GetAllClientCountAsync(new GetAllClientCountRequest {  }, Options(cancellationToken)).ConfigureAwait(false)).Count;
    }

    /// <summary>Every connected client id.</summary>
    public async Task<IReadOnlyList<string>> GetAllClientIdListAsync(CancellationToken cancellationToken = default)
    {
        return (await _client.GetAllClientIdListAsync(new GetAllClientIdListRequest {  }, Options(cancellationToken)).ConfigureAwait(false)).ClientIds;
    }

    /// <summary>Every client's session, by client id.</summary>
    public async Task<IReadOnlyDictionary<string, Session>> GetAllClientSessionsAsync(CancellationToken cancellationToken = default)
    {
        return (await _client.GetAllClientSessionsAsync(new GetAllClientSessionsRequest {  }, Options(cancellationToken)).ConfigureAwait(false)).Sessions;
    }

    /// <summary>Every group that has members.</summary>
    public async Task<IReadOnlyList<string>> GetAllGroupIdListAsync(CancellationToken cancellationToken = default)
    {
        return (await _client.GetAllGroupIdListAsync(new GetAllGroupIdListRequest {  }, Options(cancellationToken)).ConfigureAwait(false)).Groups;
    }

    /// <summary>Uids of a group's members.</summary>
    public async Task<IReadOnlyList<string>> GetUidListByGroupAsync(string group, CancellationToken cancellationToken = default)
    {
        return (await _client.GetUidListByGroupAsync(new GetUidListByGroupRequest { Group = group }, Options(cancellationToken)).ConfigureAwait(false)).Uids;
    }

    /// <summary>Distinct uids of a group's members.</summary>
    public async Task<long> GetUidCountByGroupAsync(string group, CancellationToken cancellationToken = default)
    {
        return (await _client.GetUidCountByGroupAsync(new GetUidCountByGroupRequest { Group = group }, Options(cancellationToken)).ConfigureAwait(false)).Count;
    }

    /// <summary>Every bound uid.</summary>
    public async Task<IReadOnlyList<string>> GetAllUidListAsync(CancellationToken cancellationToken = default)
    {
        return (await _client.GetAllUidListAsync(new GetAllUidListRequest {  }, Options(cancellationToken)).ConfigureAwait(false)).Uids;
    }

    /// <summary>Distinct bound uids.</summary>
    public async Task<long> GetAllUidCountAsync(CancellationToken cancellationToken = default)
    {
        return (await _client.GetAllUidCountAsync(new GetAllUidCountRequest {  }, Options(cancellationToken)).ConfigureAwait(false)).Count;
    }

    /// <summary>Every gateway's and worker's state.</summary>
    public async Task<GetStatusResponse> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        return (await _client.GetStatusAsync(new GetStatusRequest {  }, Options(cancellationToken)).ConfigureAwait(false)).Clone();
    }

    /// <summary>Disposes the channel this client created.</summary>
    public void Dispose() => _channel?.Dispose();
}
