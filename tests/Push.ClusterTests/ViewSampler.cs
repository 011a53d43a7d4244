using Grpc.Core;
using Push.Control;
using Push.V1;

namespace Push.ClusterTests;

/// <summary>
/// Polls GetStatus on every gateway in the background and keeps the smallest view seen: fewest gateways answering,
/// fewest workers listed, fewest worker streams open on any gateway. A whole view never dips.
/// </summary>
internal sealed class ViewSampler : IAsyncDisposable
{
    private readonly IReadOnlyList<PushControlClient> _gateways;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<string> _dips = [];
    private readonly Task _loop;
    private readonly int _expectedGateways;
    private readonly int _expectedWorkers;

    public ViewSampler(IReadOnlyList<PushControlClient> gateways, int expectedGateways, int expectedWorkers)
    {
        _gateways = gateways;
        _expectedGateways = expectedGateways;
        _expectedWorkers = expectedWorkers;
        _loop = Task.Run(RunAsync);
    }

    public int Samples { get; private set; }

    /// <summary>Views that were not whole, as "gateway i: ..." lines.</summary>
    public IReadOnlyList<string> Dips
    {
        get { lock (_dips) { return _dips.ToArray(); } }
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            for (var i = 0; i < _gateways.Count; i++)
            {
                try
                {
                    var st = await _gateways[i].Raw.GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: _stop.Token);
                    Samples++;
                    if (st.Reach.GatewaysTotal != _expectedGateways || st.Reach.GatewaysAnswered != _expectedGateways || st.Workers.Count != _expectedWorkers || st.Gateways.Any(g => g.WorkersConnected != _expectedWorkers))
                    {
                        lock (_dips)
                        {
                            _dips.Add($"{DateTime.Now:HH:mm:ss.fff} via gateway {i + 1}: {st.Reach.GatewaysAnswered}/{st.Reach.GatewaysTotal} gateways, {st.Workers.Count} workers listed, streams open {string.Join(",", st.Gateways.Select(g => g.WorkersConnected))}");
                        }
                    }
                }
                catch (RpcException ex) when (!_stop.IsCancellationRequested)
                {
                    lock (_dips)
                    {
                        _dips.Add($"{DateTime.Now:HH:mm:ss.fff} via gateway {i + 1}: GetStatus failed: {ex.Status}");
                    }
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    return;
                }
            }
            try
            {
                await Task.Delay(20, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }
        await _loop;
    }
}
