using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;

namespace Push.Bench.Driver;

/// <summary>Describes the machine the figures were measured on.</summary>
public static class Machine
{
    public static string Describe()
    {
        var sb = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        string model = ReadField("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();
        string? memKb = ReadField("/proc/meminfo", "MemTotal");
        string ram = "unknown";
        if (memKb is not null && long.TryParse(memKb.Replace("kB", "", StringComparison.Ordinal).Trim(), NumberStyles.Integer, c, out long kb))
        {
            ram = (kb / 1024.0 / 1024.0).ToString("0.0", c) + " GiB";
        }
        string os = ReadOsRelease() ?? RuntimeInformation.OSDescription;
        sb.AppendLine(c, $"- CPU: {model}, {Environment.ProcessorCount} logical cores (shared by servers, load generator and driver)");
        sb.AppendLine(c, $"- RAM: {ram}");
        sb.AppendLine(c, $"- OS: {os} ({RuntimeInformation.OSDescription.Trim()})");
        sb.AppendLine(c, $"- .NET: {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier}); bench process GC: {(GCSettings.IsServerGC ? "server" : "workstation")}");
        sb.AppendLine(c, $"- open-file limit per process: {ReadLimit()}");
        sb.AppendLine(c, $"- load average at the start (1, 5, 15 min): {LoadAverage()} (above about 0.5 per core the figures are indicative only)");
        return sb.ToString();
    }

    private static string? ReadField(string file, string key)
    {
        try
        {
            foreach (string line in File.ReadLines(file))
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && line.AsSpan(0, colon).Trim().SequenceEqual(key))
                {
                    return line[(colon + 1)..].Trim();
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    private static string? ReadOsRelease()
    {
        string? v = ReadField("/etc/os-release", "PRETTY_NAME");
        if (v is null)
        {
            try
            {
                foreach (string line in File.ReadLines("/etc/os-release"))
                {
                    if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))
                    {
                        return line["PRETTY_NAME=".Length..].Trim('"');
                    }
                }
            }
            catch (IOException)
            {
            }
        }
        return v;
    }

    private static string ReadLimit()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return parts.Length > 3 ? parts[3] : line;
                }
            }
        }
        catch (IOException)
        {
        }
        return "unknown";
    }

    /// <summary>The GC settings a runtimeconfig.json asks for: (server, concurrent); null where it does not say.</summary>
    public static (bool? Server, bool? Concurrent) GcOf(string runtimeConfig)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(runtimeConfig));
            bool? server = null;
            bool? concurrent = null;
            if (doc.RootElement.TryGetProperty("runtimeOptions", out var ro) && ro.TryGetProperty("configProperties", out var cp))
            {
                if (cp.TryGetProperty("System.GC.Server", out var s) && s.ValueKind is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False)
                {
                    server = s.GetBoolean();
                }
                if (cp.TryGetProperty("System.GC.Concurrent", out var c) && c.ValueKind is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False)
                {
                    concurrent = c.GetBoolean();
                }
            }
            return (server, concurrent);
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            return (null, null);
        }
    }

    public static string DescribeGc(bool server, bool concurrent) =>
        (server ? "server" : "workstation") + (concurrent ? "" : " non-concurrent");

    /// <summary>The first three fields of /proc/loadavg, or "unknown".</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
