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

    /// <summary>The GC mode a runtimeconfig.json asks for, if it says.</summary>
    public static string GcOf(string runtimeConfig)
    {
        try
        {
            string text = File.ReadAllText(runtimeConfig);
            if (text.Contains("\"System.GC.Server\": true", StringComparison.Ordinal))
            {
                return "server";
            }
            if (text.Contains("\"System.GC.Server\": false", StringComparison.Ordinal))
            {
                return "workstation";
            }
            return "workstation (default)";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
