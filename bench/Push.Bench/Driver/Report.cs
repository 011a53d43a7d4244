using System.Globalization;
using System.Text;

namespace Push.Bench.Driver;

/// <summary>How a figure is shown.</summary>
public enum Unit
{
    PerSecond,
    Millis,
    Micros,
    KiB,
    MiB,
    Bytes,
    Count,
    Factor,
}

/// <summary>The results table: one row per figure, one column per server.</summary>
public sealed class Report
{
    public const string Suite = "suite";
    public const string Baseline = "baseline";
    public const string Limit = "limit";

    private readonly List<Row> _rows = [];
    private readonly List<string> _notes = [];

    private sealed class Row(string name, Unit unit, bool ratio)
    {
        public string Name { get; } = name;

        public Unit Unit { get; } = unit;

        public bool Ratio { get; } = ratio;

        public Dictionary<string, double> Values { get; } = [];

        public Dictionary<string, string> Errors { get; } = [];
    }

    public void Set(string name, Unit unit, string column, double value, bool ratio = true)
    {
        lock (_rows)
        {
            GetRow(name, unit, ratio).Values[column] = value;
        }
        Console.Error.WriteLine($"  [{column}] {name}: {Format(value, unit)}");
    }

    public void Fail(string name, string column, string error)
    {
        lock (_rows)
        {
            GetRow(name, Unit.Count, false).Errors[column] = error;
        }
        Console.Error.WriteLine($"  [{column}] {name}: FAILED {error}");
    }

    public void Note(string note)
    {
        lock (_notes)
        {
            _notes.Add(note);
        }
    }

    private Row GetRow(string name, Unit unit, bool ratio)
    {
        var row = _rows.Find(r => r.Name == name);
        if (row is null)
        {
            row = new Row(name, unit, ratio);
            _rows.Add(row);
        }
        return row;
    }

    public static string Format(double v, Unit unit)
    {
        if (double.IsNaN(v))
        {
            return "n/a";
        }
        var c = CultureInfo.InvariantCulture;
        return unit switch
        {
            Unit.PerSecond => v >= 100 ? v.ToString("N0", c) + "/s" : v.ToString("N1", c) + "/s",
            Unit.Millis => v.ToString(v < 10 ? "N2" : "N1", c) + " ms",
            Unit.Micros => v.ToString("N1", c) + " µs",
            Unit.KiB => v.ToString("N1", c) + " KiB",
            Unit.MiB => v.ToString("N1", c) + " MiB",
            Unit.Bytes => v.ToString("N0", c) + " B",
            Unit.Factor => "×" + v.ToString("0.00", c),
            _ => v.ToString("N0", c),
        };
    }

    /// <summary>The value of the first row whose name starts with <paramref name="prefix"/> and ends with <paramref name="suffix"/>.</summary>
    public double? Find(string prefix, string suffix, string column)
    {
        lock (_rows)
        {
            foreach (var row in _rows)
            {
                if (row.Name.StartsWith(prefix, StringComparison.Ordinal) && row.Name.EndsWith(suffix, StringComparison.Ordinal)
                    && row.Values.TryGetValue(column, out var v) && !double.IsNaN(v))
                {
                    return v;
                }
            }
        }
        return null;
    }

    private static string Ratio(Row row, string over)
    {
        if (row.Ratio && row.Values.TryGetValue(Suite, out var s) && row.Values.TryGetValue(over, out var b) && b != 0 && !double.IsNaN(s) && !double.IsNaN(b))
        {
            return (s / b).ToString("0.00", CultureInfo.InvariantCulture);
        }
        return "—";
    }

    /// <summary>The table: one column per server that ran (suite, baseline, limit), then suite/baseline and suite/limit.</summary>
    public string ToMarkdown(string suiteLabel, string baselineLabel, string limitLabel)
    {
        var sb = new StringBuilder();
        bool any;
        lock (_rows)
        {
            any = _rows.Count > 0;
        }
        if (!any)
        {
            return NotesMarkdown(sb);
        }
        sb.AppendLine(CultureInfo.InvariantCulture, $"| scenario | {suiteLabel} | {baselineLabel} | {limitLabel} | suite/baseline | suite/limit |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        lock (_rows)
        {
            foreach (var row in _rows)
            {
                string Cell(string col) =>
                    row.Errors.TryGetValue(col, out var e) ? "error: " + e.Replace('|', '/').ReplaceLineEndings(" ")
                    : row.Values.TryGetValue(col, out var v) ? Format(v, row.Unit)
                    : "—";
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {row.Name} | {Cell(Suite)} | {Cell(Baseline)} | {Cell(Limit)} | {Ratio(row, Baseline)} | {Ratio(row, Limit)} |");
            }
        }
        return NotesMarkdown(sb);
    }

    private string NotesMarkdown(StringBuilder sb)
    {
        lock (_notes)
        {
            if (_notes.Count > 0)
            {
                sb.AppendLine();
                foreach (string n in _notes)
                {
                    sb.AppendLine("- " + n);
                }
            }
        }
        return sb.ToString();
    }
}
