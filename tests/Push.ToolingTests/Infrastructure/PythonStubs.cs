namespace Push.ToolingTests.Infrastructure;

/// <summary>
/// Generates the push.v1 Python stubs once per test run into a temporary folder (never checked in), exactly as a
/// user would: /usr/bin/python3 -m grpc_tools.protoc -I protos --python_out=DIR --grpc_python_out=DIR $(find protos -name '*.proto')
/// (every .proto, so that vendored imports such as google/api/annotations.proto are generated too).
/// The examples read the folder from PUSH_PY_GEN.
/// </summary>
internal static class PythonStubs
{
    private static readonly Lazy<Task<string>> Generated = new(GenerateAsync);

    public static Task<string> DirectoryAsync() => Generated.Value;

    private static async Task<string> GenerateAsync()
    {
        var python = ExternalTools.RequirePython();
        var dir = Path.Combine(Path.GetTempPath(), $"push-py-stubs-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        var protos = Directory.GetFiles(Path.Combine(Push.Testing.RepoPaths.Root, "protos"), "*.proto", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Push.Testing.RepoPaths.Root, f))
            .Order(StringComparer.Ordinal);
        var r = await ExternalProcess.RunAsync(python, ["-m", "grpc_tools.protoc", "-I", "protos", $"--python_out={dir}", $"--grpc_python_out={dir}", .. protos], TimeSpan.FromSeconds(60));
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException(r.Describe("grpc_tools.protoc (python3-grpc-tools; run .ci/setup if it is missing)"));
        }
        return dir;
    }
}
