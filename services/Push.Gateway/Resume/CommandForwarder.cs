using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.Gateway.Control;
using Push.Gateway.Diagnostics;
using Push.Hosting;
using Push.V1;

namespace Push.Gateway.Resume;

/// <summary>
/// Worker commands for a client that moved to another gateway (it resumed there) follow it: each becomes the matching
/// control call on that gateway (forwarded, "push-scope: local"), in order per client. A command that cannot be
/// forwarded is counted (push.gateway.worker_commands.dropped{reason=forward_failed}) and logged, never silently lost.
/// </summary>
internal sealed partial class CommandForwarder(
    MovedClients moved,
    IPeerClients peers,
    GatewayMetrics metrics,
    IOptions<ClusterOptions> cluster,
    TimeProvider time,
    ILogger<CommandForwarder> logger)
{
    // The last forward of each client, so that the next one starts after it (order per client).
    private readonly ConcurrentDictionary<string, Task> _chains = new(StringComparer.Ordinal);

    /// <summary>Forwards the command when its client moved away; false when it did not (the caller handles it).</summary>
    public bool TryForward(Command command)
    {
        if (!moved.TryGet(command.ClientId, out var to))
        {
            return false;
        }
        var gateway = new Member { Id = to.GatewayId, Address = to.Address, Role = MemberRole.Gateway };
        var next = _chains.AddOrUpdate(
            command.ClientId,
            _ => ForwardAsync(Task.CompletedTask, gateway, command),
            (_, previous) => ForwardAsync(previous, gateway, command));
        _ = next.ContinueWith(t => _chains.TryRemove(new KeyValuePair<string, Task>(command.ClientId, t)), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return true;
    }

    private async Task ForwardAsync(Task previous, Member gateway, Command command)
    {
        await previous.ConfigureAwait(false); // never faults: failures are handled below
        var client = peers.Get(gateway);
        var options = new CallOptions(new Metadata { { ClusterRouter.ScopeHeader, "local" } }, time.GetUtcNow().UtcDateTime + cluster.Value.PeerTimeout);
        var id = command.ClientId;
        try
        {
            switch (command.KindCase)
            {
                case Command.KindOneofCase.Send:
                    var send = new SendToClientRequest { ClientId = id };
                    if (command.Send.DataCase == SendCommand.DataOneofCase.Binary)
                    {
                        send.Binary = command.Send.Binary;
                    }
                    else
                    {
                        send.Text = command.Send.Text;
                    }
                    await client.SendToClientAsync(send, options).ConfigureAwait(false);
                    break;
                case Command.KindOneofCase.Close:
                    // The control API closes with 1000 (a worker's own close code does not travel).
                    var close = new CloseClientRequest { ClientId = id };
                    if (command.Close.DataCase == CloseCommand.DataOneofCase.Text)
                    {
                        close.Text = command.Close.Text;
                    }
                    else if (command.Close.DataCase == CloseCommand.DataOneofCase.Binary)
                    {
                        close.Binary = command.Close.Binary;
                    }
                    await client.CloseClientAsync(close, options).ConfigureAwait(false);
                    break;
                case Command.KindOneofCase.SetSession:
                    await client.SetSessionAsync(new SetSessionRequest { ClientId = id, Session = { command.SetSession.Session } }, options).ConfigureAwait(false);
                    break;
                case Command.KindOneofCase.UpdateSession:
                    await client.UpdateSessionAsync(new UpdateSessionRequest { ClientId = id, Session = { command.UpdateSession.Session } }, options).ConfigureAwait(false);
                    break;
                case Command.KindOneofCase.BindUid:
                    await client.BindUidAsync(new BindUidRequest { ClientId = id, Uid = command.BindUid.Uid }, options).ConfigureAwait(false);
                    break;
                case Command.KindOneofCase.UnbindUid:
                    await client.UnbindUidAsync(new UnbindUidRequest { ClientId = id, Uid = command.UnbindUid.Uid }, options).ConfigureAwait(false);
                    break;
                case Command.KindOneofCase.JoinGroup:
                    await client.JoinGroupAsync(new JoinGroupRequest { ClientId = id, Group = command.JoinGroup.Group }, options).ConfigureAwait(false);
                    break;
                case Command.KindOneofCase.LeaveGroup:
                    await client.LeaveGroupAsync(new LeaveGroupRequest { ClientId = id, Group = command.LeaveGroup.Group }, options).ConfigureAwait(false);
                    break;
                default:
                    metrics.WorkerCommandDropped("not_forwardable");
                    break;
            }
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException or HttpRequestException or IOException or InvalidOperationException or ObjectDisposedException)
        {
            metrics.WorkerCommandDropped("forward_failed");
            Log.ForwardFailed(logger, command.KindCase.ToString(), id, gateway.Id, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3621, LogLevel.Warning, "A worker's {Command} for client {ClientId}, which moved to gateway {Gateway}, could not be forwarded there: {Reason}.", EventName = "CommandForwardFailed")]
        public static partial void ForwardFailed(ILogger logger, string command, string clientId, string gateway, string reason);
    }
}
