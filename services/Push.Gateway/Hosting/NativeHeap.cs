using System.Runtime.InteropServices;

namespace Push.Gateway.Hosting;

/// <summary>
/// glibc's malloc keeps the memory a burst freed in its arenas (one per thread that allocated at the same time as
/// another, up to 8 per core): the runtime's native allocations of a burst of connections (the JIT's work while the
/// new code paths tier up) stay resident after they are freed. <c>malloc_trim(0)</c> hands every free page of every
/// arena back to the kernel. Only on Linux with glibc; elsewhere (musl, macOS, Windows) it does nothing.
/// </summary>
internal static partial class NativeHeap
{
    private static int _unavailable;

    /// <summary>Returns free malloc memory to the kernel; false when this C library has no malloc_trim.</summary>
    public static bool Trim()
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref _unavailable) != 0)
        {
            return false;
        }
        try
        {
            _ = MallocTrim(0);
            return true;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            Volatile.Write(ref _unavailable, 1); // musl has no malloc_trim: nothing to give back this way
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallocTrim(nuint pad);
}
