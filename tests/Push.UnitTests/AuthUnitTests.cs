using System.Text;
using Grpc.Core;
using Push.Hosting.Security;

namespace Push.UnitTests;

public sealed class SecretListTests
{
    [Fact]
    public void Parse_CommaSeparated_AcceptsEveryValueAndSendsTheFirst()
    {
        var list = SecretList.Parse(" new-secret , old-secret ,");

        Assert.Equal(["new-secret", "old-secret"], list.Values);
        Assert.Equal("new-secret", list.Current);
        Assert.True(list.Matches(Encoding.UTF8.GetBytes("new-secret")));
        Assert.True(list.Matches(Encoding.UTF8.GetBytes("old-secret")));
        Assert.False(list.Matches(Encoding.UTF8.GetBytes("new-secre")));
        Assert.False(list.Matches(Encoding.UTF8.GetBytes("new-secret,old-secret")));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" , ")]
    public void Parse_Nothing_IsEmpty(string? value)
    {
        var list = SecretList.Parse(value);

        Assert.True(list.IsEmpty);
        Assert.Null(list.Current);
        Assert.False(list.Matches([]));
    }
}

public sealed class AccessHandlerTests
{
    [Theory]
    [InlineData("/push.v1.GatewayService/SendToGroup", false, true)]
    [InlineData("/push.v1.GatewayService/GetStatus", false, true)]
    [InlineData("/push.v1.GatewayService/SendToGroup", true, false)]
    [InlineData("/push.v1.GatewayService/Drain", false, false)]
    [InlineData("/push.v1.RegistryService/ListMembers", false, true)]
    [InlineData("/push.v1.RegistryService/WatchMembers", false, true)]
    [InlineData("/push.v1.RegistryService/Register", false, false)]
    [InlineData("/push.v1.RegistryService/KeepAlive", false, false)]
    [InlineData("/push.v1.RegistryService/Deregister", false, false)]
    [InlineData("/push.v1.BusinessService/StreamEvents", false, false)]
    [InlineData("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", false, true)]
    [InlineData("/push.v1.ResumeService/BeginHandoff", false, false)]
    [InlineData("/push.v1.ResumeService/CompleteHandoff", false, false)]
    [InlineData("/something.Else/Method", false, false)]
    public void ControlCredential_MayCallOnlyTheControlApi(string path, bool forwarded, bool allowed)
    {
        var why = AccessHandler.MemberOnly(path, forwarded);

        Assert.Equal(allowed, why is null);
    }
}

public sealed class BearerCredentialsTests
{
    [Fact]
    public async Task SharedCallOptions_EveryCallGetsOneAuthorizationHeader_AndTheSharedHeadersStayUntouched()
    {
        // One CallOptions used for several peer calls, as a scatter does.
        var shared = new CallOptions(new Metadata { { "push-scope", "local" }, { "authorization", "Bearer stale" } });
        var seen = new Capture();
        var invoker = Push.Control.BearerCredentials.Apply(seen, "s3cret");
        var method = new Method<string, string>(MethodType.Unary, "push.v1.GatewayService", "GetStatus", Marshallers.StringMarshaller, Marshallers.StringMarshaller);

        for (var i = 0; i < 3; i++)
        {
            await invoker.AsyncUnaryCall(method, null, shared, "x");
        }

        Assert.Equal(3, seen.Headers.Count);
        Assert.Equal(3, seen.Headers.Distinct().Count());
        foreach (var h in seen.Headers)
        {
            Assert.Equal("Bearer s3cret", Assert.Single(h, e => e.Key == "authorization").Value);
            Assert.Equal("local", h.GetValue("push-scope"));
        }
        Assert.Equal(2, shared.Headers!.Count);
        Assert.Equal("Bearer stale", shared.Headers!.GetValue("authorization"));
    }

    [Fact]
    public void NoSecret_LeavesTheInvokerAsItIs()
    {
        var invoker = new Capture();

        Assert.Same(invoker, Push.Control.BearerCredentials.Apply(invoker, null));
        Assert.Same(invoker, Push.Control.BearerCredentials.Apply(invoker, string.Empty));
    }

    private sealed class Capture : CallInvoker
    {
        public List<Metadata> Headers { get; } = [];

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
        {
            Headers.Add(options.Headers!);
            return new AsyncUnaryCall<TResponse>(Task.FromResult(default(TResponse)!), Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
        }

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException();

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException();

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) => throw new NotSupportedException();

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) => throw new NotSupportedException();
    }
}
