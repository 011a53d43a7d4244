namespace Push.Hosting.Cluster;

/// <summary>The gRPC address this process advertises; known once Kestrel has bound its ports.</summary>
internal sealed class AdvertisedAddress
{
    private readonly TaskCompletionSource<string> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<string> Task => _tcs.Task;

    public string? Value => _tcs.Task.IsCompletedSuccessfully ? _tcs.Task.Result : null;

    public void Set(string address) => _tcs.TrySetResult(address);
}
