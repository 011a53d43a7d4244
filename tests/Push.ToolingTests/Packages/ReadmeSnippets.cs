using System.Text.RegularExpressions;
using Push.Testing;

namespace Push.ToolingTests.Packages;

/// <summary>A C# code block of a Markdown file, marked <c>&lt;!-- snippet: NAME (PACKAGE) --&gt;</c> on the line before its fence.</summary>
internal sealed record Snippet(string File, int Line, string Name, string Package, string Code)
{
    public override string ToString() => $"{File}:{Line} ({Name})";
}

/// <summary>
/// Reads the C# blocks of README.md, docs/*.md and the package READMEs (services/*/README.md) at test time, so what
/// the tests compile is exactly what a user copies. A block is either a checked snippet (a whole Program.cs, built
/// against its package) or a fragment, marked <c>&lt;!-- fragment... --&gt;</c>.
/// </summary>
internal static partial class ReadmeSnippets
{
    [GeneratedRegex(@"^<!--\s*snippet:\s*(?<name>[\w-]+)\s+\((?<package>[\w.]+)\)\s*-->\s*$")]
    private static partial Regex SnippetMarker();

    [GeneratedRegex(@"^<!--\s*fragment\b.*-->\s*$")]
    private static partial Regex FragmentMarker();

    /// <summary>The Markdown files whose C# blocks are checked, relative to the repository root.</summary>
    public static IReadOnlyList<string> Files()
    {
        var root = RepoPaths.Root;
        var files = new List<string> { "README.md" };
        files.AddRange(Directory.GetFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)));
        files.AddRange(Directory.GetDirectories(Path.Combine(root, "services"))
            .Select(d => Path.Combine(d, "README.md"))
            .Where(File.Exists)
            .Select(f => Path.GetRelativePath(root, f)));
        files.Sort(StringComparer.Ordinal);
        return files;
    }

    /// <summary>Every C# block of <paramref name="file"/>: (line of the fence, marker line or null, code).</summary>
    public static IEnumerable<(int Line, string? Marker, string Code)> CSharpBlocks(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(RepoPaths.Root, file));
        for (var i = 0; i < lines.Length; i++)
        {
            var fence = lines[i].TrimStart();
            if (fence is not ("```csharp" or "```cs" or "```c#"))
            {
                continue;
            }
            var indent = lines[i].Length - fence.Length;
            var end = i + 1;
            while (end < lines.Length && lines[end].Trim() != "```")
            {
                end++;
            }
            if (end == lines.Length)
            {
                throw new InvalidOperationException($"{file}:{i + 1}: unterminated code block");
            }
            var code = string.Join('\n', lines[(i + 1)..end].Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())) + "\n";
            string? marker = null;
            for (var m = i - 1; m >= 0; m--)
            {
                if (lines[m].Trim().Length > 0)
                {
                    marker = lines[m].Trim();
                    break;
                }
            }
            yield return (i + 1, marker, code);
            i = end;
        }
    }

    /// <summary>The checked snippets of every file; throws for a C# block that is neither a snippet nor a fragment.</summary>
    public static IReadOnlyList<Snippet> All()
    {
        var snippets = new List<Snippet>();
        foreach (var file in Files())
        {
            foreach (var (line, marker, code) in CSharpBlocks(file))
            {
                if (marker is not null && SnippetMarker().Match(marker) is { Success: true } m)
                {
                    snippets.Add(new Snippet(file, line, m.Groups["name"].Value, m.Groups["package"].Value, code));
                }
                else if (marker is null || !FragmentMarker().IsMatch(marker))
                {
                    throw new InvalidOperationException(
                        $"{file}:{line}: a ```csharp block must follow <!-- snippet: NAME (PACKAGE) --> (a whole Program.cs, built against the package in CI) or <!-- fragment: ... --> (part of a program)");
                }
            }
        }
        return snippets;
    }
}
