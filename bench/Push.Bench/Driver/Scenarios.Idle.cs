using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Push.Bench.Load;
using Push.V1;

namespace Push.Bench.Driver;

/// <summary>The idle footprint scenario: a fresh server, connections held by child processes.</summary>
public sealed partial class Scenarios
{
    // ----------------------------------------------------------------------------------------
    // Idle footprint: a fresh server, connections held by child processes.
    // ----------------------------------------------------------------------------------------

    /// <summary>How long the server is left idle before the readings around the idle connections.</summary>
    private static readonly TimeSpan IdleSettle = TimeSpan.FromSeconds(10);

    public async Task IdleAsync(string column, ServerFactory start)
    {
        if (o.Idle <= 0)
        {
            return;
        }
        Console.Error.WriteLine($"[{column}] idle footprint... (t={Elapsed.Elapsed.TotalSeconds:0.0} s)");
        using var server = await start("idle").ConfigureAwait(false);
        using var channel = Channel(server.Grpc);
        var gw = new GatewayService.GatewayServiceClient(channel);
        int pid = server.Pid;
        bool gcInduced = true;
        async Task<(long RssKb, long? Live)> ReadingAsync()
        {
            // A full GC first, so that garbage left by the calls does not count as state.
            long? live = await ProcStats.InduceGcAsync(pid).ConfigureAwait(false);
            gcInduced &= live is not null;
            return (await ProcStats.SettledRssKb(pid, TimeSpan.FromSeconds(6)).ConfigureAwait(false), live);
        }
        void Costs(string what, int count, (long RssKb, long? Live) before, (long RssKb, long? Live) after, Unit unit)
        {
            double scale = unit == Unit.KiB ? 1.0 / 1024 : 1.0;
            // A few MB of GC retention between readings swamps costs of ~100 B: such RSS rows are marked and get no ratio.
            bool small = unit == Unit.Bytes;
            report.Set($"idle: server RSS per {what}{(small ? " (noisy, see README)" : "")}", unit, column, (after.RssKb - before.RssKb) * 1024.0 * scale / Math.Max(1, count), ratio: !small);
            if (before.Live is long b && after.Live is long a)
            {
                report.Set($"idle: server live managed heap per {what}", unit, column, (a - b) * scale / Math.Max(1, count));
            }
        }

        // Warm the server's code paths (connect, join, bind, the gRPC connection) before the first reading.
        using var warm = new ClientPool();
        await warm.ConnectAsync(server.WsEndPoint, 100, 16, DriverSourceFrom, 1, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        if (warm.Conns.Count == 0)
        {
            throw new IOException("no warm-up client could connect: " + warm.FirstError);
        }
        var warmIds = warm.Conns.Select(c => c.ClientId!).ToHashSet(StringComparer.Ordinal);
        var warmList = warmIds.ToList();
        await InFlightAsync(warmList.Count * 10, 64, i => gw.JoinGroupAsync(new JoinGroupRequest { ClientId = warmList[i % warmList.Count], Group = "warm" + (i / warmList.Count).ToString(CultureInfo.InvariantCulture) }).ResponseAsync).ConfigureAwait(false);
        await InFlightAsync(warmList.Count * 10, 64, i => gw.BindUidAsync(new BindUidRequest { ClientId = warmList[i % warmList.Count], Uid = "w" + i.ToString(CultureInfo.InvariantCulture) }).ResponseAsync).ConfigureAwait(false);

        // The readings around the connections are taken once the server has been idle for a while: a gateway gives
        // free GC memory back after about 5 s of allocating next to nothing (Gateway:MemoryTrimMinMiB, docs/memory.md).
        await Task.Delay(IdleSettle).ConfigureAwait(false);
        var rss0 = await ReadingAsync().ConfigureAwait(false);

        // Children hold the idle connections (a process can open only about 20,000 files).
        int childCount = Math.Max(1, (o.Idle + 5999) / 6000);
        var children = new List<Process>();
        try
        {
            var results = new List<Task<JsonElement>>();
            int remaining = o.Idle;
            for (int k = 0; k < childCount; k++)
            {
                int count = remaining / (childCount - k);
                remaining -= count;
                var info = Children.Self([
                    "clients", "--ws", server.Ws.ToString(), "--count", count.ToString(CultureInfo.InvariantCulture),
                    "--src-from", (DriverSourceFrom + o.SourceAddresses + (k * o.SourceAddresses)).ToString(CultureInfo.InvariantCulture),
                    "--src-count", o.SourceAddresses.ToString(CultureInfo.InvariantCulture), "--concurrency", "64",
                ]);
                info.RedirectStandardInput = true;
                info.RedirectStandardOutput = true;
                var p = Children.Start(info, null);
                children.Add(p);
                results.Add(ReadResultAsync(p, TimeSpan.FromSeconds(120)));
            }
            var parsed = await Task.WhenAll(results).ConfigureAwait(false);
            int connected = parsed.Sum(r => r.GetProperty("connected").GetInt32());
            int failed = parsed.Sum(r => r.GetProperty("failed").GetInt32());
            double slowest = parsed.Max(r => r.GetProperty("seconds").GetDouble());
            report.Set($"connection rate ({o.Idle:N0} idle clients from {childCount} child processes, 64 at a time each): connects/s", Unit.PerSecond, column, connected / slowest);
            if (failed > 0)
            {
                string err = parsed.Select(r => r.TryGetProperty("error", out var e) ? e.GetString() : null).FirstOrDefault(e => e is not null) ?? "";
                report.Fail($"idle: connections that failed", column, $"{failed} of {o.Idle}: {err}");
            }

            await Task.Delay(IdleSettle).ConfigureAwait(false);
            var rss1 = await ReadingAsync().ConfigureAwait(false);
            Costs($"connection ({connected:N0} connections)", connected, rss0, rss1, Unit.KiB);
            report.Set("idle: server RSS before them (100 warm-up clients connected)", Unit.MiB, column, rss0.RssKb / 1024.0);

            // Each state-changing round below is preceded by a control round of the same number
            // of calls of the same shape that changes no lasting state (on the warm clients), so
            // that heap growth caused by the calls' garbage is already in the reading before it.
            // (--quick skips them: the live-heap rows do not need them.)
            var rss1b = rss1;
            if (!o.Quick)
            {
                await InFlightAsync(connected * 2, 64, i => gw.JoinGroupAsync(new JoinGroupRequest { ClientId = warmList[i % warmList.Count], Group = "warm" + (i / warmList.Count % 10).ToString(CultureInfo.InvariantCulture) }).ResponseAsync).ConfigureAwait(false);
                rss1b = await ReadingAsync().ConfigureAwait(false);
            }

            var ids = (await gw.GetAllClientIdListAsync(new GetAllClientIdListRequest(), deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync.ConfigureAwait(false))
                .ClientIds.Where(id => !warmIds.Contains(id)).ToList();
            const int GroupsPerClient = 2;
            const int Groups = 100;
            var (joined, jerr, jfirst) = await InFlightAsync(ids.Count * GroupsPerClient, 64, i => gw.JoinGroupAsync(new JoinGroupRequest
            {
                ClientId = ids[i / GroupsPerClient],
                Group = "idle" + (i % Groups).ToString(CultureInfo.InvariantCulture),
            }).ResponseAsync).ConfigureAwait(false);
            var rss2 = await ReadingAsync().ConfigureAwait(false);
            Costs($"group membership ({joined:N0} in {Groups} groups)", (int)joined, rss1b, rss2, Unit.Bytes);

            var rss2b = rss2;
            if (!o.Quick)
            {
                await InFlightAsync(ids.Count, 64, i => gw.BindUidAsync(new BindUidRequest { ClientId = warmList[i % warmList.Count], Uid = "w" + (i % (warmList.Count * 10)).ToString(CultureInfo.InvariantCulture) }).ResponseAsync).ConfigureAwait(false);
                rss2b = await ReadingAsync().ConfigureAwait(false);
            }
            if (jerr > 0)
            {
                report.Fail("idle: JoinGroup failures", column, $"{jerr}: {jfirst}");
            }

            var (bound, berr, bfirst) = await InFlightAsync(ids.Count, 64, i => gw.BindUidAsync(new BindUidRequest
            {
                ClientId = ids[i],
                Uid = "iu" + i.ToString(CultureInfo.InvariantCulture),
            }).ResponseAsync).ConfigureAwait(false);
            var rss3 = await ReadingAsync().ConfigureAwait(false);
            Costs($"uid binding ({bound:N0} distinct uids)", (int)bound, rss2b, rss3, Unit.Bytes);
            if (berr > 0)
            {
                report.Fail("idle: BindUid failures", column, $"{berr}: {bfirst}");
            }
        }
        finally
        {
            if (!gcInduced)
            {
                report.Note($"{column}: a full GC could not be induced in the server before the memory readings (no diagnostics port); they include uncollected garbage");
            }
            foreach (var p in children)
            {
                try
                {
                    p.StandardInput.Close();
                }
                catch (IOException)
                {
                }
            }
            foreach (var p in children)
            {
                if (!p.WaitForExit(5000))
                {
                    Children.Kill(p);
                }
                Children.Kill(p);
            }
        }
    }

    private static async Task<JsonElement> ReadResultAsync(Process p, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            string? line = await p.StandardOutput.ReadLineAsync(cts.Token).ConfigureAwait(false)
                ?? throw new IOException($"load-generator child {p.Id} exited without a result");
            if (line.StartsWith('{'))
            {
                using var doc = JsonDocument.Parse(line);
                return doc.RootElement.Clone();
            }
        }
    }
}
