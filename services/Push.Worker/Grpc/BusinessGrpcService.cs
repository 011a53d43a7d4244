using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Push.V1;
using Push.Worker.Diagnostics;

namespace Push.Worker.Grpc;

/// <summary>gRPC adapter: each gateway stream becomes a <see cref="GatewayStreamSession"/>.</summary>
internal sealed class BusinessGrpcService(BusinessEvents events, GatewayClients gateways, IOptions<WorkerOptions> options, WorkerMetrics metrics, Push.Worker.Hosting.GatewaySessions sessions, TimeProvider time, HandledSeqs handled, ILogger<GatewayStreamSession> logger) : BusinessService.BusinessServiceBase
{
    public override async Task StreamEvents(IAsyncStreamReader<StreamEventsRequest> requestStream, IServerStreamWriter<StreamEventsResponse> responseStream, ServerCallContext context)
    {
        await context.WriteResponseHeadersAsync([]).ConfigureAwait(false);
        var session = new GatewayStreamSession(events, gateways, options.Value, metrics, time, logger, handled);
        sessions.Opened();
        try
        {
            await session.RunAsync(requestStream, responseStream, context.CancellationToken, sessions.Stopping, sessions.Aborting).ConfigureAwait(false);
        }
        finally
        {
            sessions.Closed();
        }
    }
}
