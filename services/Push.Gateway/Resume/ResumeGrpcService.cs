using Grpc.Core;
using Push.V1;

namespace Push.Gateway.Resume;

/// <summary>The internal ResumeService (gateway to gateway, member credential only): a thin adapter over <see cref="HandoffOwner"/>.</summary>
internal sealed class ResumeGrpcService(HandoffOwner owner) : ResumeService.ResumeServiceBase
{
    public override Task<BeginHandoffResponse> BeginHandoff(BeginHandoffRequest request, ServerCallContext context)
        => owner.BeginAsync(request, context.CancellationToken);

    public override Task<CompleteHandoffResponse> CompleteHandoff(CompleteHandoffRequest request, ServerCallContext context)
        => owner.CompleteAsync(request, context.CancellationToken);
}
