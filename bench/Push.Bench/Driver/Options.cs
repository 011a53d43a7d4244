using System.Globalization;

namespace Push.Bench.Driver;

/// <summary>Command-line options of the driver.</summary>
public sealed class Options
{
    public bool Quick { get; set; }

    public int Clients { get; set; } = 2000;

    public int Messages { get; set; } = 500;

    public int Bursts { get; set; } = 3;

    public int Idle { get; set; } = 10_000;

    /// <summary>push.dll path, "baseline" (a second baseline in the suite column), "none", or null (build services/Push.Cli).</summary>
    public string? Suite { get; set; }

    /// <summary>Seconds of each timed (paced, closed-loop, unary) run.</summary>
    public double Duration { get; set; } = 3;

    /// <summary>Pushes per second of the paced single-push runs.</summary>
    public int Rate { get; set; } = 2000;

    public int EchoClients { get; set; } = 1000;

    /// <summary>Messages per second, in total, of the paced echo.</summary>
    public int EchoRate { get; set; } = 10_000;

    public int BatchSize { get; set; } = 100;

    public int SourceAddresses { get; set; } = 8;

    public string? Out { get; set; }

    /// <summary>Hard limit of the whole run; everything is killed past it.</summary>
    public double MaxMinutes { get; set; } = 6;

    public bool SkipIdle { get; set; }

    /// <summary>Leave the limit broadcaster out (two columns, as before).</summary>
    public bool NoLimit { get; set; }

    public bool SkipActive { get; set; }

    public static Options Parse(string[] args)
    {
        var o = new Options();
        var given = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + a);
            int NextInt() => int.Parse(Next(), CultureInfo.InvariantCulture);
            double NextDouble() => double.Parse(Next(), CultureInfo.InvariantCulture);
            given.Add(a);
            switch (a)
            {
                case "--quick": o.Quick = true; break;
                case "--clients": o.Clients = NextInt(); break;
                case "--messages": o.Messages = NextInt(); break;
                case "--bursts": o.Bursts = NextInt(); break;
                case "--idle": o.Idle = NextInt(); break;
                case "--suite": o.Suite = Next(); break;
                case "--duration": o.Duration = NextDouble(); break;
                case "--rate": o.Rate = NextInt(); break;
                case "--echo-clients": o.EchoClients = NextInt(); break;
                case "--echo-rate": o.EchoRate = NextInt(); break;
                case "--batch": o.BatchSize = NextInt(); break;
                case "--sources": o.SourceAddresses = NextInt(); break;
                case "--out": o.Out = Next(); break;
                case "--max-minutes": o.MaxMinutes = NextDouble(); break;
                case "--no-idle": o.SkipIdle = true; break;
                case "--no-limit": o.NoLimit = true; break;
                case "--idle-only": o.SkipActive = true; break;
                case "-h" or "--help": throw new ArgumentException(Usage);
                default: throw new ArgumentException("unknown option " + a + "\n" + Usage);
            }
        }
        if (o.Quick)
        {
            if (!given.Contains("--clients")) o.Clients = 500;
            if (!given.Contains("--messages")) o.Messages = 200;
            if (!given.Contains("--bursts")) o.Bursts = 2;
            if (!given.Contains("--idle")) o.Idle = 2000;
            if (!given.Contains("--duration")) o.Duration = 1;
            if (!given.Contains("--echo-clients")) o.EchoClients = 200;
            if (!given.Contains("--max-minutes")) o.MaxMinutes = 3;
        }
        if (o.Clients < 1 || o.Messages < 1 || o.Bursts < 1 || o.Idle < 0 || o.Duration <= 0 || o.Rate < 1 || o.SourceAddresses is < 1 or > 60)
        {
            throw new ArgumentException("invalid option value\n" + Usage);
        }
        o.EchoClients = Math.Min(o.EchoClients, o.Clients);
        o.Duration = Math.Min(o.Duration, 20);
        return o;
    }

    public const string Usage = """
        usage: Push.Bench [--quick] [--clients 2000] [--messages 500] [--bursts 3] [--idle 10000]
                          [--suite PATH_TO_push.dll | baseline | none] [--duration 3] [--rate 2000]
                          [--echo-clients 1000] [--batch 100] [--sources 8] [--out FILE.md]
                          [--max-minutes 6] [--no-idle] [--idle-only]
               Push.Bench baseline --ready-file FILE
               Push.Bench clients --ws URL --count N [--src-from 10] [--src-count 8] [--concurrency 64]
        """;
}
