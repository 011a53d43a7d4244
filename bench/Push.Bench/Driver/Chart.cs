using System.Globalization;
using System.Net;
using System.Text;

namespace Push.Bench.Driver;

/// <summary>
/// The headline figures of a run as an SVG bar chart written as text (no package, no network): one panel per figure,
/// one bar per server (suite, baseline, limit), each panel on its own scale, the value above each bar and the
/// suite/limit ratio under the panel.
/// </summary>
public static class Chart
{
    private sealed record Figure(string Title, string Unit, bool HigherIsBetter, string Prefix, string Suffix, double Scale = 1);

    private static readonly Figure[] Figures =
    [
        new("fan-out, unary", "M msg/s", true, "fan-out SendToAll, one unary call per message", ": delivered msg/s", 1e-6),
        new("fan-out, SendBatch", "M msg/s", true, "fan-out SendToAll as SendBatch", ": delivered msg/s", 1e-6),
        new("idle memory", "KiB/conn", false, "idle: server RSS per connection", ""),
        new("echo, closed loop", "k rt/s", true, "upstream echo, closed loop", ": round trips/s", 1e-3),
        new("echo, paced p99", "ms", false, "upstream echo, paced", ": latency p99"),
    ];

    private static readonly (string Column, string Label, string Color)[] Series =
    [
        (Report.Suite, "suite", "#2f6fdf"),
        (Report.Baseline, "baseline", "#9aa3ad"),
        (Report.Limit, "limit", "#e08a1e"),
    ];

    private static string F(double v) => v.ToString(v >= 100 ? "0" : v >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture);

    public static string Svg(Report report, string title)
    {
        const int panelWidth = 190;
        const int panelHeight = 210;
        const int top = 70;
        const int barWidth = 38;
        int width = (panelWidth * Figures.Length) + 20;
        int height = top + panelHeight + 80;
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">""");
        sb.AppendLine(c, $"""<rect width="{width}" height="{height}" fill="#ffffff"/>""");
        sb.AppendLine(c, $"""<text x="10" y="22" font-size="15" font-weight="bold">{WebUtility.HtmlEncode(title)}</text>""");
        int lx = 10;
        foreach (var (_, label, color) in Series)
        {
            sb.AppendLine(c, $"""<rect x="{lx}" y="34" width="12" height="12" fill="{color}"/><text x="{lx + 16}" y="45">{label}</text>""");
            lx += 90;
        }
        for (int i = 0; i < Figures.Length; i++)
        {
            var f = Figures[i];
            int x0 = 10 + (i * panelWidth);
            var values = Series.Select(s => report.Find(f.Prefix, f.Suffix, s.Column) * f.Scale).ToArray();
            double max = values.Where(v => v is not null).Select(v => v!.Value).DefaultIfEmpty(0).Max();
            max = max <= 0 ? 1 : max * 1.15;
            int baseY = top + panelHeight;
            sb.AppendLine(c, $"""<line x1="{x0 + 10}" y1="{baseY}" x2="{x0 + panelWidth - 20}" y2="{baseY}" stroke="#333"/>""");
            for (int k = 0; k < Series.Length; k++)
            {
                int bx = x0 + 20 + (k * (barWidth + 12));
                if (values[k] is not double v)
                {
                    sb.AppendLine(c, $"""<text x="{bx + (barWidth / 2)}" y="{baseY - 6}" text-anchor="middle" fill="#888">n/a</text>""");
                    continue;
                }
                double h = v / max * (panelHeight - 20);
                sb.AppendLine(c, $"""<rect x="{bx}" y="{(baseY - h).ToString("0.#", c)}" width="{barWidth}" height="{h.ToString("0.#", c)}" fill="{Series[k].Color}"><title>{Series[k].Label}: {F(v)} {f.Unit}</title></rect>""");
                sb.AppendLine(c, $"""<text x="{bx + (barWidth / 2)}" y="{(baseY - h - 5).ToString("0.#", c)}" text-anchor="middle">{F(v)}</text>""");
            }
            sb.AppendLine(c, $"""<text x="{x0 + ((panelWidth - 10) / 2)}" y="{baseY + 20}" text-anchor="middle" font-weight="bold">{WebUtility.HtmlEncode(f.Title)}</text>""");
            string ratio = values[0] is double s && values[2] is double l && l > 0 ? $"suite/limit {(s / l).ToString("0.00", c)}" : "";
            sb.AppendLine(c, $"""<text x="{x0 + ((panelWidth - 10) / 2)}" y="{baseY + 36}" text-anchor="middle" fill="#555">{f.Unit}, {(f.HigherIsBetter ? "higher" : "lower")} is better</text>""");
            sb.AppendLine(c, $"""<text x="{x0 + ((panelWidth - 10) / 2)}" y="{baseY + 52}" text-anchor="middle" fill="#555">{ratio}</text>""");
        }
        sb.AppendLine("</svg>");
        return sb.ToString();
    }
}
