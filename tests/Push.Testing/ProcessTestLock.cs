namespace Push.Testing;

/// <summary>
/// `dotnet test Push.Grpc.sln` runs test assemblies in parallel. Assemblies that start real processes and measure
/// timings (leases, drains, slow consumers) take this machine-wide lock from their module initializer, so they run one
/// after another while builds and unit tests stay parallel. The lock is an exclusive open of a file in the temp folder,
/// released when the test process exits.
/// </summary>
public static class ProcessTestLock
{
    private static FileStream? _held;

    public static void Acquire()
    {
        if (_held is not null)
        {
            return;
        }
        var path = Path.Combine(Path.GetTempPath(), "push-grpc-process-tests.lock");
        var deadline = DateTime.UtcNow.AddMinutes(30);
        while (true)
        {
            try
            {
                _held = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }
        }
    }
}
