using Google.Protobuf;
using Grpc.Core;
using Push.Gateway.Control;
using Push.V1;

namespace Push.UnitTests;

/// <summary>SendToAll refuses the removed `client_ids` (field 1) that a caller of the old contract still sends.</summary>
public sealed class RemovedFieldsTests
{
    [Fact]
    public void ThrowIfClientIds_OldRequestWithClientIds_IsInvalidArgumentNamingTheField()
    {
        // Arrange: SendToClientsRequest has the field numbers of the old SendToAllRequest (1 client_ids, 2 exclude, 3/4 data).
        var old = SendToAllRequest.Parser.ParseFrom(new SendToClientsRequest { ClientIds = { "a", "b" }, ExcludeClientIds = { "c" }, Text = "x" }.ToByteArray());

        // Act
        var ex = Assert.Throws<RpcException>(() => RemovedFields.ThrowIfClientIds(old));

        // Assert
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("client_ids:", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("x", old.Text); // the probe works on a clone
        Assert.Equal(["c"], old.ExcludeClientIds);
    }

    [Fact]
    public void ThrowIfClientIds_CurrentRequest_Passes()
    {
        RemovedFields.ThrowIfClientIds(new SendToAllRequest { ExcludeClientIds = { "c" }, Binary = ByteString.CopyFrom(1, 2, 3) });
        RemovedFields.ThrowIfClientIds(new SendToAllRequest());
    }

    [Fact]
    public void ThrowIfClientIds_OtherUnknownField_Passes()
    {
        // A field this gateway does not know, other than the removed one (e.g. from a newer contract), is not refused here.
        var bytes = new SendToAllRequest { Text = "x" }.ToByteArray().Concat(new SendToClientsRequest { ClientIds = { "a" } }.ToByteArray().Select((b, i) => i == 0 ? (byte)((9 << 3) | 2) : b)).ToArray();
        var newer = SendToAllRequest.Parser.ParseFrom(bytes);
        Assert.Equal("x", newer.Text);

        RemovedFields.ThrowIfClientIds(newer);
    }
}
