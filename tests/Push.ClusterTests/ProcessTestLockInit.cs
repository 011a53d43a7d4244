using System.Runtime.CompilerServices;

namespace Push.ClusterTests;

internal static class ProcessTestLockInit
{
    // Runs before any test of this assembly: waits for other process-based test assemblies to finish (see ProcessTestLock).
    [ModuleInitializer]
    internal static void Init() => Push.Testing.ProcessTestLock.Acquire();
}
