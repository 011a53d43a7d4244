using System.Security.Cryptography;

namespace Push.Hosting.Files;

/// <summary>
/// A value loaded from files and loaded again when they change. <see cref="Current"/> is what the hot path reads: at
/// most once per <c>interval</c> (on <see cref="TimeProvider"/>) one caller looks at the files' stamps
/// (<see cref="FileStamp"/>: resolved links, last-write time, length); only when a stamp changed are the files loaded
/// again. A load that fails (unreadable, half-written, mismatched files) keeps the previous value and is reported; it is
/// tried again when the files change again.
/// </summary>
internal sealed class FileReloader<T> where T : class
{
    private readonly string[] _paths;
    private readonly Func<T> _load;
    private readonly TimeProvider _time;
    private readonly long _intervalTicks;
    private readonly Action<T>? _reloaded;
    private readonly Action<Exception>? _failed;
    private T _current;
    private FileStamp[] _stamps;
    private long _nextCheck;
    private int _checking;

    /// <summary>Loads the value now; a failure here is the caller's (the process should not start without it).</summary>
    public FileReloader(IEnumerable<string> paths, Func<T> load, TimeProvider time, TimeSpan interval, Action<T>? reloaded = null, Action<Exception>? failed = null)
    {
        _paths = [.. paths];
        _load = load;
        _time = time;
        _intervalTicks = (long)(interval.TotalSeconds * time.TimestampFrequency);
        _reloaded = reloaded;
        _failed = failed;
        _stamps = FileStamp.Of(_paths);
        _current = load();
        _nextCheck = time.GetTimestamp() + _intervalTicks;
    }

    /// <summary>The value; looks at the files first when the interval has passed.</summary>
    public T Current
    {
        get
        {
            if (_time.GetTimestamp() >= Volatile.Read(ref _nextCheck))
            {
                CheckNow();
            }
            return Volatile.Read(ref _current);
        }
    }

    /// <summary>Times the files' stamps were compared (for tests: the hot path does not touch the files).</summary>
    public long Checks { get; private set; }

    /// <summary>Compares the stamps and reloads on a change; false when another caller is checking already.</summary>
    public bool CheckNow()
    {
        if (Interlocked.Exchange(ref _checking, 1) == 1)
        {
            return false;
        }
        try
        {
            Checks++;
            var stamps = FileStamp.Of(_paths);
            if (!stamps.AsSpan().SequenceEqual(_stamps))
            {
                // Remember the new stamps even when the load fails: the same broken files are not retried (and logged)
                // every interval, the next change of any of them is.
                _stamps = stamps;
                Reload();
            }
        }
        finally
        {
            Volatile.Write(ref _nextCheck, _time.GetTimestamp() + _intervalTicks);
            Volatile.Write(ref _checking, 0);
        }
        return true;
    }

    private void Reload()
    {
        T value;
        try
        {
            value = _load();
        }
        catch (Exception ex) when (IsLoadFailure(ex))
        {
            _failed?.Invoke(ex);
            return;
        }
        Volatile.Write(ref _current, value);
        _reloaded?.Invoke(value);
    }

    /// <summary>The failures a file load can have (missing or unreadable file, bad content); anything else is a bug and is thrown.</summary>
    public static bool IsLoadFailure(Exception ex) => ex is IOException or UnauthorizedAccessException or CryptographicException or FormatException
        or ArgumentException or InvalidOperationException or System.Text.Json.JsonException;
}
