namespace Push.Hosting.Files;

/// <summary>
/// What identifies one version of a file: the path after every symbolic link is followed (Kubernetes swaps the
/// <c>..data</c> link of a mounted Secret, so the path a process was given never changes), the last-write time and the length.
/// </summary>
internal readonly record struct FileStamp(string ResolvedPath, DateTime LastWriteUtc, long Length)
{
    private const int MaxLinks = 40;

    /// <summary>The stamp of <paramref name="path"/>; a missing file has an empty resolved path.</summary>
    public static FileStamp Of(string path)
    {
        var resolved = Resolve(path);
        var info = new FileInfo(resolved);
        return info.Exists ? new(resolved, info.LastWriteTimeUtc, info.Length) : new(string.Empty, default, -1);
    }

    /// <summary>Stamps of several files, in order.</summary>
    public static FileStamp[] Of(IReadOnlyList<string> paths)
    {
        var stamps = new FileStamp[paths.Count];
        for (var i = 0; i < stamps.Length; i++)
        {
            stamps[i] = Of(paths[i]);
        }
        return stamps;
    }

    /// <summary>
    /// Follows symbolic links in every component of <paramref name="path"/> (like realpath): a link in a parent
    /// folder counts as much as the file's own link.
    /// </summary>
    public static string Resolve(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? string.Empty;
        var pending = new Stack<string>(full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse());
        var current = root;
        var links = 0;
        while (pending.TryPop(out var part))
        {
            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is { } target && links++ < MaxLinks)
            {
                var absolute = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target));
                var targetRoot = Path.GetPathRoot(absolute) ?? string.Empty;
                foreach (var p in absolute[targetRoot.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse())
                {
                    pending.Push(p);
                }
                current = targetRoot;
                continue;
            }
            current = next;
        }
        return current;
    }
}
