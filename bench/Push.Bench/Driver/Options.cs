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

    /// <summary>Where to write the SVG chart of the headline figures.</summary>
    public string? Chart { get; set; }

    /// <summary>Hard limit of the whole run; everything is killed past it.</summary>
    public double MaxMinutes { get; set; } = 15;

    public bool SkipIdle { get; set; }

    /// <summary>Leave the limit broadcaster out (two columns, as before).</summary>
    public bool NoLimit { get; set; }

    /// <summary>Leave the baseline out (quicker A/B runs of the suite against the limit; its column stays empty).</summary>
    public bool NoBaseline { get; set; }

    public bool SkipActive { get; set; }

    /// <summary>Only the fan-out scenarios of the active run (no idle, cluster or other active scenarios).</summary>
    public bool FanOutOnly { get; set; }

    /// <summary>Run the cluster routing scenario (default on; --no-cluster skips it, --cluster-only runs only it).</summary>
    public bool Cluster { get; set; } = true;

    public bool ClusterOnly { get; set; }

    /// <summary>Run only the upstream echo scenarios (paced and closed loop), <see cref="EchoRounds"/> times each.</summary>
    public bool EchoOnly { get; set; }

    /// <summary>Rounds of the echo scenarios (each round's rows are reported apart: "(round 2)").</summary>
    public int EchoRounds { get; set; } = 1;

    /// <summary>A second push.dll run in the baseline column (an A/B of two builds in one run), or null.</summary>
    public string? BaselineSuite { get; set; }

    public IReadOnlyList<string> RoutingModes { get; set; } = ["mesh", "nats"];

    public IReadOnlyList<int> GatewayCounts { get; set; } = [1, 4, 8];

    public int ClusterClients { get; set; } = 200;

    /// <summary>Seconds of each timed cluster run.</summary>
    public double ClusterSeconds { get; set; } = 3;

    /// <summary>Connections of the scale scenario (0: off).</summary>
    public int Scale { get; set; }

    /// <summary>Cluster:Routing of the scale scenario's gateways (null: the build's default, no option given).</summary>
    public string? ScaleRouting { get; set; }

    /// <summary>SendToAll calls of the scale scenario's fan-out (4 in flight).</summary>
    public int ScaleMessages { get; set; } = 1;

    /// <summary>Most connections per gateway process of the scale scenario.</summary>
    public int ScalePerGateway { get; set; } = 18_000;

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
                case "--chart": o.Chart = Next(); break;
                case "--max-minutes": o.MaxMinutes = NextDouble(); break;
                case "--no-idle": o.SkipIdle = true; break;
                case "--no-limit": o.NoLimit = true; break;
                case "--no-baseline": o.NoBaseline = true; break;
                case "--fanout-only": o.FanOutOnly = true; o.SkipIdle = true; o.Cluster = false; break;
                case "--cluster": o.Cluster = true; break;
                case "--no-cluster": o.Cluster = false; break;
                case "--cluster-only": o.Cluster = true; o.ClusterOnly = true; break;
                case "--routing": o.RoutingModes = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--gateways": o.GatewayCounts = Next().Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToList(); break;
                case "--cluster-clients": o.ClusterClients = NextInt(); break;
                case "--cluster-seconds": o.ClusterSeconds = NextDouble(); break;
                case "--scale": o.Scale = NextInt(); break;
                case "--scale-per-gateway": o.ScalePerGateway = NextInt(); break;
                case "--scale-messages": o.ScaleMessages = NextInt(); break;
                case "--scale-routing": o.ScaleRouting = Next(); break;
                case "--idle-only": o.SkipActive = true; break;
                case "--echo-only": o.EchoOnly = true; o.SkipIdle = true; o.Cluster = false; break;
                case "--echo-rounds": o.EchoRounds = NextInt(); break;
                case "--baseline-suite": o.BaselineSuite = Next(); break;
                case "-h" or "--help": throw new ArgumentException(Usage);
                default: throw new ArgumentException("unknown option " + a + "\n" + Usage);
            }
        }
        if (o.Scale > 0 && !given.Contains("--max-minutes"))
        {
            o.MaxMinutes = 30;
        }
        if (o.Quick)
        {
            if (!given.Contains("--clients")) o.Clients = 500;
            if (!given.Contains("--messages")) o.Messages = 200;
            if (!given.Contains("--bursts")) o.Bursts = 2;
            if (!given.Contains("--idle")) o.Idle = 2000;
            if (!given.Contains("--duration")) o.Duration = 1;
            if (!given.Contains("--echo-clients")) o.EchoClients = 200;
            if (!given.Contains("--max-minutes")) o.MaxMinutes = 8;
            if (!given.Contains("--cluster-seconds")) o.ClusterSeconds = 1;
        }
        if (o.Clients < 1 || o.Messages < 1 || o.Bursts < 1 || o.Idle < 0 || o.Duration <= 0 || o.Rate < 1 || o.SourceAddresses is < 1 or > 60
            || o.GatewayCounts.Count == 0 || o.GatewayCounts.Any(n => n is < 1 or > 30) || o.ClusterClients < 10 || o.Scale < 0 || o.ScalePerGateway < 100 || o.ScaleMessages < 1 || o.EchoRounds < 1)
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
                          [--max-minutes 15] [--no-idle] [--idle-only] [--no-limit] [--no-baseline] [--chart FILE.svg]
                          [--fanout-only]
                          [--cluster | --no-cluster | --cluster-only] [--routing mesh,nats] [--gateways 1,4,8]
                          [--cluster-clients 200] [--cluster-seconds 3]
                          [--echo-only [--echo-rounds 1] [--echo-rate 10000]] [--baseline-suite PATH_TO_other/push.dll]
                          [--scale 100000 [--scale-per-gateway 18000] [--scale-messages 1] [--scale-routing mesh|nats]]
               Push.Bench limit --ready-file FILE
               Push.Bench baseline --ready-file FILE
               Push.Bench gc --pid N
               Push.Bench clients --ws URL --count N [--src-from 10] [--src-count 8] [--concurrency 64]
        """;
}
