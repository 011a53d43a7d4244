using Push.Gateway.Routing;
using Push.Gateway.Routing.Mesh;

namespace Push.UnitTests.Routing;

/// <summary>
/// Random interleavings of joins, leaves, deliveries, acknowledgements, lost streams and time (no sockets): whenever a
/// group's first member's sync has completed, the watcher either routes that group to the served gateway or treats
/// its view as stale (sends it every push). Never "in sync and without the group".
/// </summary>
public sealed class InterestChurnTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task RandomChurn_NoCompletedJoinIsMissedByAnInSyncView(int seed)
    {
        var rng = new Random(seed);
        var h = new InterestHarness();
        var names = Enumerable.Range(0, 8).Select(i => "g" + i).ToArray();
        var on = new HashSet<string>(StringComparer.Ordinal);
        var syncs = new Dictionary<string, Task>(StringComparer.Ordinal);
        var (w, view) = h.InSync();
        var open = true;
        var checks = 0;
        var inSyncChecks = 0;
        for (var step = 0; step < 4000; step++)
        {
            switch (rng.Next(10))
            {
                case 0 or 1:
                    {
                        var n = names[rng.Next(names.Length)];
                        var nowOn = on.Add(n) || !on.Remove(n);
                        h.Log.Apply(InterestKind.Group, n, nowOn);
                        if (nowOn)
                        {
                            syncs[n] = h.Log.SyncAsync(default).AsTask();
                        }
                        else
                        {
                            syncs.Remove(n);
                        }
                        break;
                    }
                case 2 or 3 when open:
                    Assert.True(h.Deliver(w, view));
                    break;
                case 4 when open:
                    Assert.True(h.Ack(w, view));
                    break;
                case 5:
                    h.Time.Advance(TimeSpan.FromMilliseconds(rng.Next(1500)));
                    await Task.Yield();
                    break;
                case 6 when open && rng.Next(10) == 0:
                    // The stream breaks: the watcher forgets the view at once; the served gateway learns it later.
                    view.Invalidate();
                    open = false;
                    if (rng.Next(2) == 0)
                    {
                        h.Log.Close(w);
                    }
                    break;
                case 7 when !open:
                    (w, view) = h.Open();
                    open = true;
                    break;
                default:
                    // A push now: every group whose join has returned must be routed here, or the view is stale.
                    await Task.Yield(); // let completed syncs run their continuations
                    foreach (var n in on)
                    {
                        if (syncs.TryGetValue(n, out var s) && s.IsCompleted)
                        {
                            checks++;
                            var hosts = view.Hosts(InterestKind.Group, [n]);
                            Assert.True(hosts != false, $"seed {seed} step {step}: {n}'s join returned, the view is in sync and lacks it");
                            inSyncChecks += hosts == true ? 1 : 0;
                        }
                    }
                    break;
            }
        }
        // Every lease runs out. A sync whose timer fired re-arms its next timer on a pool thread, possibly after one
        // Advance: keep moving the fake clock until every sync has completed (the real-time bound is the test's).
        var all = Task.WhenAll(syncs.Values);
        using (var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (!all.IsCompleted)
            {
                bound.Token.ThrowIfCancellationRequested();
                h.Time.Advance(TimeSpan.FromSeconds(5));
                await Task.WhenAny(all, Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System, CancellationToken.None));
            }
        }
        await all;
        Assert.True(checks > 100 && inSyncChecks > 10, $"too few checks ({checks}, {inSyncChecks} in sync): the walk did not exercise anything");
    }
}
