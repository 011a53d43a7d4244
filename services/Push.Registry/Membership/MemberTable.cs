using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Push.V1;

namespace Push.Registry.Membership;

/// <summary>The registry's only state: the members and their lease expiry. Watchers get a full snapshot after each change.</summary>
internal sealed class MemberTable
{
    private static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxTtl = TimeSpan.FromMinutes(10);

    private readonly Lock _sync = new();
    private readonly Dictionary<string, (Member Member, DateTimeOffset Expires, string Token)> _members = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _version;

    public MemberTable(TimeProvider time, IMeterFactory meters)
    {
        _time = time;
        var meter = meters.Create("Push.Registry");
        meter.CreateObservableGauge("push.registry.members", () => new[]
        {
            new Measurement<int>(Count(MemberRole.Gateway), new KeyValuePair<string, object?>("push.role", "gateway")),
            new Measurement<int>(Count(MemberRole.Worker), new KeyValuePair<string, object?>("push.role", "worker")),
        }, "{member}", "Live members of the cluster by role.");
    }

    public long Version { get { lock (_sync) { return _version; } } }

    /// <summary>
    /// Registers <paramref name="member"/>. A live id belongs to whoever holds its lease token: registering it again
    /// (moved, changed, or even unchanged) without that token is refused (<see cref="RegisterOutcome.Conflict"/>, with
    /// the live member), so neither its address nor its token can be obtained by someone who only knows the id. An id
    /// whose lease lapsed is free again and gets a new token.
    /// </summary>
    public RegisterOutcome Register(Member member, string? token, out TimeSpan ttl, out string leaseToken, out Member? live)
    {
        ttl = member.LeaseTtl?.ToTimeSpan() ?? TimeSpan.FromSeconds(5);
        ttl = ttl < MinTtl ? MinTtl : ttl > MaxTtl ? MaxTtl : ttl;
        var stored = member.Clone();
        stored.LeaseTtl = Duration.FromTimeSpan(ttl);
        lock (_sync)
        {
            var now = _time.GetUtcNow();
            live = null;
            if (_members.TryGetValue(member.Id, out var old) && old.Expires > now)
            {
                if (!TokenMatches(old.Token, token))
                {
                    live = old.Member;
                    leaseToken = string.Empty;
                    return RegisterOutcome.Conflict;
                }
                leaseToken = old.Token;
            }
            else
            {
                // A member may propose its own token (at least 128 bits of hex): then a retry of a registration whose
                // answer got lost presents the token the registry stored and is answered again, instead of being
                // refused as a take-over until the lease lapses (which made a live worker leave the cluster).
                leaseToken = IsProposal(token) ? token! : NewToken();
            }
            var changed = old.Member is null || !old.Member.Equals(stored);
            _members[member.Id] = (stored, now + ttl, leaseToken);
            if (changed)
            {
                SignalLocked();
            }
            return RegisterOutcome.Registered;
        }
    }

    /// <summary>Renews a lease: its ttl, null when the id is unknown; <paramref name="denied"/> when the token is not its.</summary>
    public TimeSpan? KeepAlive(string id, string? token, out bool denied)
    {
        denied = false;
        lock (_sync)
        {
            if (!_members.TryGetValue(id, out var entry))
            {
                return null;
            }
            if (!TokenMatches(entry.Token, token))
            {
                denied = true;
                return null;
            }
            var ttl = entry.Member.LeaseTtl.ToTimeSpan();
            _members[id] = (entry.Member, _time.GetUtcNow() + ttl, entry.Token);
            return ttl;
        }
    }

    /// <summary>Removes a member; false when unknown; <paramref name="denied"/> when the token is not its lease token.</summary>
    public bool Remove(string id, string? token, out bool denied)
    {
        denied = false;
        lock (_sync)
        {
            if (!_members.TryGetValue(id, out var entry))
            {
                return false;
            }
            if (!TokenMatches(entry.Token, token))
            {
                denied = true;
                return false;
            }
            _members.Remove(id);
            SignalLocked();
            return true;
        }
    }

    /// <summary>Whether a token a member sent with its first registration can be its lease token (32 to 128 hex digits).</summary>
    internal static bool IsProposal(string? token)
    {
        if (token is not { Length: >= 32 and <= 128 })
        {
            return false;
        }
        foreach (var ch in token)
        {
            if (!char.IsAsciiHexDigit(ch))
            {
                return false;
            }
        }
        return true;
    }

    private static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private static bool TokenMatches(string expected, string? presented)
        => presented is { Length: > 0 } && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(presented));

    /// <summary>Drops every member whose lease lapsed; returns the ids dropped.</summary>
    public IReadOnlyList<string> Sweep()
    {
        var now = _time.GetUtcNow();
        List<string>? dropped = null;
        lock (_sync)
        {
            foreach (var (id, entry) in _members)
            {
                if (entry.Expires <= now)
                {
                    (dropped ??= []).Add(id);
                }
            }
            if (dropped is not null)
            {
                foreach (var id in dropped)
                {
                    _members.Remove(id);
                }
                SignalLocked();
            }
        }
        return (IReadOnlyList<string>?)dropped ?? [];
    }

    public (Member[] Members, Task Changed) Snapshot(MemberRole role)
    {
        lock (_sync)
        {
            var list = _members.Values.Select(e => e.Member)
                .Where(m => role == MemberRole.Unspecified || m.Role == role)
                .OrderBy(m => m.Id, StringComparer.Ordinal)
                .ToArray();
            return (list, _changed.Task);
        }
    }

    /// <summary>The outcome of <see cref="Register"/>.</summary>
    public enum RegisterOutcome
    {
        Registered,
        Conflict,
    }

    private int Count(MemberRole role)
    {
        lock (_sync)
        {
            return _members.Values.Count(e => e.Member.Role == role);
        }
    }

    private void SignalLocked()
    {
        _version++;
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }
}
