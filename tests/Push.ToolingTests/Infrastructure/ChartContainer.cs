using System.Text.Json;
using System.Text.RegularExpressions;

namespace Push.ToolingTests.Infrastructure;

/// <summary>
/// One container of a pod that charts/push rendered, run with `docker run` the way the kubelet runs it, as far as a
/// host without Kubernetes can:
///   podSecurityContext.runAsUser/runAsGroup -> --user UID:GID; containerSecurityContext.readOnlyRootFilesystem ->
///   --read-only; the emptyDir mounted at /tmp -> --tmpfs /tmp (with its sizeLimit); capabilities.drop [ALL] ->
///   --cap-drop ALL; allowPrivilegeEscalation false -> --security-opt no-new-privileges; command -> --entrypoint +
///   leading arguments; args and env as rendered, $(VAR) expanded as Kubernetes does.
/// What differs, on purpose: --network host on a 127.0.0.x address of its own instead of a pod IP (no bridge, nothing
/// leaves loopback), the chart's listen address 0.0.0.0 and ports replaced by that address and OS-picked free ports,
/// PUSH_REGISTRY pointed at the registry container (no cluster DNS), the image replaced by the test's tag, and the
/// downward-API / Secret values (POD_IP, POD_NAME, POD_NAMESPACE, PUSH_SECRET, PUSH_CONTROL_SECRET) supplied here.
/// Probes, preStop and terminationGracePeriodSeconds are the kubelet's; the test stops with `docker stop -t GRACE`.
/// </summary>
internal sealed partial class ChartContainer
{
    private readonly List<string> _runArgs = [];

    public required string Name { get; init; }
    public required string Address { get; init; }

    /// <summary>The chart's container port number -> the free port used here.</summary>
    public required IReadOnlyDictionary<int, int> Ports { get; init; }

    public IReadOnlyList<string> RunArgs => _runArgs;

    public int Port(int chartPort) => Ports[chartPort];

    /// <summary>Translates the first container of <paramref name="workload"/> (a Deployment or StatefulSet).</summary>
    public static ChartContainer From(JsonElement workload, string image, string name, string address, IReadOnlyDictionary<string, string> supplied, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var pod = workload.GetProperty("spec").GetProperty("template").GetProperty("spec");
        var container = pod.GetProperty("containers")[0];
        var ports = container.GetProperty("ports").EnumerateArray()
            .ToDictionary(p => p.GetProperty("containerPort").GetInt32(), _ => Docker.FreePort(address));
        var c = new ChartContainer { Name = name, Address = address, Ports = ports };
        var run = c._runArgs;
        run.AddRange(["run", "--detach", "--name", name, "--label", Docker.TestLabel, "--network", "host"]);

        var podSc = pod.GetProperty("securityContext");
        var sc = container.GetProperty("securityContext");
        run.AddRange(["--user", $"{Int(sc, podSc, "runAsUser")}:{Int(sc, podSc, "runAsGroup")}"]);
        if (sc.TryGetProperty("readOnlyRootFilesystem", out var ro) && ro.GetBoolean())
        {
            run.Add("--read-only");
        }
        foreach (var mount in container.GetProperty("volumeMounts").EnumerateArray())
        {
            var volume = pod.GetProperty("volumes").EnumerateArray().Single(v => v.GetProperty("name").GetString() == mount.GetProperty("name").GetString());
            if (volume.TryGetProperty("emptyDir", out var emptyDir))
            {
                var size = emptyDir.TryGetProperty("sizeLimit", out var s) ? $",size={s.GetString()!.Replace("Mi", "m", StringComparison.Ordinal)}" : string.Empty;
                run.AddRange(["--tmpfs", $"{mount.GetProperty("mountPath").GetString()}:rw,mode=1777{size}"]);
            }
        }
        if (sc.TryGetProperty("capabilities", out var caps) && caps.TryGetProperty("drop", out var drop))
        {
            foreach (var cap in drop.EnumerateArray())
            {
                run.AddRange(["--cap-drop", cap.GetString()!]);
            }
        }
        if (sc.TryGetProperty("allowPrivilegeEscalation", out var ape) && !ape.GetBoolean())
        {
            run.AddRange(["--security-opt", "no-new-privileges"]);
        }

        // env in order, each value able to refer to the ones before it ($(VAR)), as Kubernetes expands them.
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in container.GetProperty("env").EnumerateArray())
        {
            var key = e.GetProperty("name").GetString()!;
            string value;
            if (overrides is not null && overrides.TryGetValue(key, out var o))
            {
                value = o;
            }
            else if (e.TryGetProperty("value", out var v))
            {
                value = c.Localize(Expand(v.GetString()!, env));
            }
            else
            {
                value = supplied.TryGetValue(key, out var s) ? s : throw new InvalidOperationException($"{name}: no value supplied for {key} (valueFrom)");
            }
            env[key] = value;
            run.AddRange(["--env", $"{key}={value}"]);
        }

        var command = container.TryGetProperty("command", out var cmd) ? cmd.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
        if (command.Count > 0)
        {
            run.AddRange(["--entrypoint", command[0]]);
        }
        run.Add(image);
        run.AddRange(command.Skip(1));
        if (container.TryGetProperty("args", out var args))
        {
            run.AddRange(args.EnumerateArray().Select(a => c.Localize(Expand(a.GetString()!, env))));
        }
        return c;
    }

    /// <summary>0.0.0.0:PORT and ADDRESS:PORT of a chart port -> this container's address and its free port.</summary>
    private string Localize(string value)
    {
        foreach (var (chart, local) in Ports)
        {
            value = value.Replace($"0.0.0.0:{chart}", $"{Address}:{local}", StringComparison.Ordinal)
                         .Replace($"{Address}:{chart}", $"{Address}:{local}", StringComparison.Ordinal);
        }
        return value;
    }

    private static string Expand(string value, Dictionary<string, string> env)
        => VarReference().Replace(value, m => env.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);

    private static int Int(JsonElement container, JsonElement pod, string property)
        => container.TryGetProperty(property, out var v) ? v.GetInt32() : pod.GetProperty(property).GetInt32();

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex VarReference();
}
