using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Push.V1;

namespace Push.Hosting;

/// <summary>Builds the suite's error statuses: a code, a message naming the field or id, and google.rpc.ErrorInfo.</summary>
internal static class Errors
{
    private const string Domain = "push.v1";

    public static RpcException Create(Code code, ErrorReason reason, string message, string? field = null)
    {
        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        var info = new ErrorInfo { Reason = CommonReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.EnumDescriptor>("ErrorReason").FindValueByNumber((int)reason).Name, Domain = Domain };
        if (field is not null)
        {
            info.Metadata["field"] = field;
            status.Details.Add(Any.Pack(new BadRequest
            {
                FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = message } },
            }));
        }
        status.Details.Add(Any.Pack(info));
        return status.ToRpcException();
    }

    public static RpcException InvalidField(string field, string message)
        => Create(Code.InvalidArgument, ErrorReason.InvalidField, $"{field}: {message}", field);

    public static RpcException ClientNotFound(string clientId)
        => Create(Code.NotFound, ErrorReason.ClientNotFound, $"client_id '{clientId}' is not connected");

    public static RpcException GatewayGone(string clientId, string gatewayId)
        => Create(Code.NotFound, ErrorReason.GatewayGone, $"client_id '{clientId}' belongs to gateway {gatewayId}, which is not a live member of the cluster (it stopped or its lease lapsed)");

    public static RpcException GatewayUnreachable(string gatewayId, string detail)
        => Create(Code.Unavailable, ErrorReason.GatewayUnreachable, $"gateway {gatewayId} did not answer: {detail}");

    public static RpcException Draining(string what)
        => Create(Code.Unavailable, ErrorReason.Draining, what);

    public static RpcException LimitExceeded(string field, string message)
        => Create(Code.ResourceExhausted, ErrorReason.LimitExceeded, $"{field}: {message}", field);

    public static RpcException Unauthenticated(string message)
        => Create(Code.Unauthenticated, ErrorReason.Unauthenticated, message);

    public static RpcException PermissionDenied(string message)
        => Create(Code.PermissionDenied, ErrorReason.PermissionDenied, message);

    public static RpcException MemberConflict(string message)
        => Create(Code.FailedPrecondition, ErrorReason.MemberConflict, message);
}
