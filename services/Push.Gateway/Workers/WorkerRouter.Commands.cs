using Push.Gateway.Connections;
using Push.Gateway.WebSockets;
using Push.V1;

namespace Push.Gateway.Workers;

/// <summary>The commands workers send back for this gateway's connections.</summary>
internal sealed partial class WorkerRouter
{
    /// <summary>Hands a command for a client that moved to another gateway to the forwarder (set by the resume coordinator).</summary>
    public Func<Command, bool>? ForwardMoved { get; set; }

    /// <summary>Applies one command from a worker to a connection of this gateway.</summary>
    public void Apply(WorkerLink from, Command command)
    {
        switch (command.KindCase)
        {
            case Command.KindOneofCase.AcceptHandshake:
                if (!handshakes.Accept(command.ClientId))
                {
                    Log.LateHandshakeDecision(logger, "accept", command.ClientId);
                }
                return;
            case Command.KindOneofCase.RejectHandshake:
                if (!handshakes.Reject(command.ClientId, command.RejectHandshake.Status, command.RejectHandshake.Reason ?? string.Empty))
                {
                    Log.LateHandshakeDecision(logger, "reject", command.ClientId);
                }
                return;
            default:
                break;
        }
        var c = table.Find(command.ClientId);
        if ((c is null || c.IsResumable && c.RoughState == ResumeState.Moved) && ForwardMoved?.Invoke(command) == true)
        {
            return; // the client resumed on another gateway: the command follows it there
        }
        if (c is null)
        {
            Log.CommandForUnknownClient(logger, command.KindCase.ToString(), command.ClientId);
            return;
        }
        var o = options.Value;
        switch (command.KindCase)
        {
            case Command.KindOneofCase.Send:
                var send = command.Send;
                var binary = send.DataCase == SendCommand.DataOneofCase.Binary;
                // A frame larger than Gateway:SendQueueBytes could never be queued within the bound: drop and count it
                // rather than close a healthy client as a slow consumer. (UTF-8 is at most 3 bytes per char: count only
                // when it can matter.)
                var limit = o.SendQueueBytes - OutboundFrame.HeaderLength(o.SendQueueBytes);
                if (binary ? send.Binary.Length > limit : send.Text.Length * 3L > limit && System.Text.Encoding.UTF8.GetByteCount(send.Text) > limit)
                {
                    metrics.WorkerCommandDropped("too_big");
                    Log.WorkerSendTooBig(logger, from.WorkerId, binary ? send.Binary.Length : System.Text.Encoding.UTF8.GetByteCount(send.Text), c.ClientId);
                    break;
                }
                c.Send(binary ? OutboundFrame.Binary(send.Binary.Span) : OutboundFrame.Text(send.Text));
                break;
            case Command.KindOneofCase.Close:
                var close = command.Close;
                OutboundFrame? last = close.DataCase switch
                {
                    CloseCommand.DataOneofCase.Text => OutboundFrame.Text(close.Text),
                    CloseCommand.DataOneofCase.Binary => OutboundFrame.Binary(close.Binary.Span),
                    _ => null,
                };
                // 1005/1006/1015 must never be sent, and only registered or application codes are valid.
                var code = close.Code != 0 && FrameParser.IsValidCloseCode(close.Code) ? close.Code : CloseCodes.Normal;
                c.Close(code, close.Reason ?? string.Empty, lastMessage: last);
                break;
            case Command.KindOneofCase.SetSession:
                SessionStore.Write(c, command.SetSession.Session, merge: false, o.MaxSessionSize, workerHasIt: ReferenceEquals(c.Worker, from));
                break;
            case Command.KindOneofCase.UpdateSession:
                SessionStore.Write(c, command.UpdateSession.Session, merge: true, o.MaxSessionSize, workerHasIt: ReferenceEquals(c.Worker, from));
                break;
            case Command.KindOneofCase.BindUid:
                if (IsValidName(command.BindUid.Uid, o))
                {
                    table.BindUid(c, command.BindUid.Uid);
                }
                break;
            case Command.KindOneofCase.UnbindUid:
                table.UnbindUid(c);
                break;
            case Command.KindOneofCase.JoinGroup:
                if (IsValidName(command.JoinGroup.Group, o))
                {
                    table.JoinGroup(c, command.JoinGroup.Group, o.MaxGroupsPerConnection);
                }
                break;
            case Command.KindOneofCase.LeaveGroup:
                table.LeaveGroup(c, command.LeaveGroup.Group);
                break;
            default:
                break;
        }
    }

    /// <summary>Counts an ack beyond the events written on the worker's stream (a worker bug); the ack is ignored.</summary>
    public void AckIgnored(WorkerLink from, ulong ack)
    {
        metrics.WorkerAckIgnored("beyond_written");
        Log.AckBeyondWritten(logger, from.WorkerId, ack);
    }

    private static bool IsValidName(string? s, GatewayOptions o) => !string.IsNullOrEmpty(s) && s.Length <= o.MaxNameLength;
}
