using Push.Testing;

namespace Push.ToolingTests.Infrastructure;

/// <summary>
/// Where the tests find the non-.NET tools. Each getter fails with a message that names .ci/setup (which installs
/// them: apt python3-grpcio python3-grpc-tools chromium, the Go, Java and Ruby gRPC packages, npm ci in tools/ and
/// examples/node) when one is missing.
/// </summary>
internal static class ExternalTools
{
    public static string Buf => RepoPaths.Tool("buf");

    /// <summary>Debian's interpreter: the python3 first on PATH may be a separate build that cannot import python3-grpcio.</summary>
    public const string Python = "/usr/bin/python3";

    public const string Chromium = "/usr/bin/chromium";

    public static string Node => FindOnPath("node") ?? throw Missing("node (Node.js)", "it is part of the machine image; install nodejs");

    public static string NodeExampleDir
    {
        get
        {
            var dir = Path.Combine(RepoPaths.Root, "examples", "node");
            return Directory.Exists(Path.Combine(dir, "node_modules", "@grpc", "grpc-js"))
                ? dir
                : throw Missing("examples/node/node_modules (@grpc/grpc-js, @grpc/proto-loader)", "it runs `npm ci` in examples/node");
        }
    }

    public static string PythonExampleDir => Path.Combine(RepoPaths.Root, "examples", "python");

    /// <summary>The demo-page script; needs playwright-core in tools/node_modules and Chromium at /usr/bin/chromium.</summary>
    public static string DemoPageScript
    {
        get
        {
            if (!File.Exists(Chromium))
            {
                throw Missing(Chromium, "it runs `apt-get install chromium`");
            }
            if (!Directory.Exists(Path.Combine(RepoPaths.Root, "tools", "node_modules", "playwright-core")))
            {
                throw Missing("tools/node_modules/playwright-core", "it runs `npm ci` in tools/");
            }
            return Path.Combine(RepoPaths.Root, "tools", "browser", "demo-page.mjs");
        }
    }

    /// <summary>Debian's php-cli with php-curl (the HTTP/JSON example, issue 11).</summary>
    public static string RequirePhp()
        => File.Exists("/usr/bin/php") && Directory.GetFiles("/etc/php", "*curl.ini", SearchOption.AllDirectories).Length > 0
            ? "/usr/bin/php"
            : throw Missing("/usr/bin/php with php-curl", "it installs php-cli and php-curl with apt");

    /// <summary>curl and bash (the README's HTTP/JSON walk-through).</summary>
    public static string RequireCurl()
        => File.Exists("/usr/bin/curl") ? "/usr/bin/bash" : throw Missing("/usr/bin/curl", "it installs curl with apt");

    /// <summary>Go 1.19, protoc with protoc-gen-go and protoc-gen-go-grpc, and grpc-go under /usr/share/gocode (examples/go/build.sh).</summary>
    public static void RequireGoToolchain()
    {
        const string How = "it installs golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev with apt";
        RequireOnPath(How, "go", "protoc", "protoc-gen-go", "protoc-gen-go-grpc");
        RequireFile("/usr/share/gocode/src/google.golang.org/grpc/clientconn.go", How);
    }

    /// <summary>A JDK, protoc with Debian's grpc-java plugin, and the grpc-java and netty jars (examples/java/build.sh).</summary>
    public static void RequireJavaToolchain()
    {
        const string How = "it installs openjdk-17-jdk-headless protobuf-compiler protobuf-compiler-grpc-java-plugin libgrpc-java libprotobuf-java libnetty-java ... with apt";
        RequireOnPath(How, "java", "javac", "protoc");
        RequireFile("/usr/bin/grpc_java_plugin", How);
        RequireFile("/usr/share/java/grpc-netty.jar", How);
        RequireFile("/usr/share/java/netty-codec-http2.jar", How);
    }

    /// <summary>Ruby with the grpc gem and grpc_tools_ruby_protoc (examples/ruby/push_example.rb).</summary>
    public static string RequireRuby()
    {
        const string How = "it installs ruby-grpc ruby-grpc-tools with apt";
        RequireOnPath(How, "ruby", "grpc_tools_ruby_protoc");
        return FindOnPath("ruby")!;
    }

    public static string RubyExampleDir => Path.Combine(RepoPaths.Root, "examples", "ruby");

    private static void RequireOnPath(string how, params string[] names)
    {
        foreach (var name in names)
        {
            _ = FindOnPath(name) ?? throw Missing(name, how);
        }
    }

    private static void RequireFile(string path, string how)
    {
        if (!File.Exists(path))
        {
            throw Missing(path, how);
        }
    }

    public static string RequirePython()
        => File.Exists(Python) ? Python : throw Missing(Python, "it installs python3-grpcio and python3-grpc-tools with apt");

    private static FileNotFoundException Missing(string what, string how)
        => new($"{what} not found: run .ci/setup ({how}).");

    internal static string? FindOnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);
}
