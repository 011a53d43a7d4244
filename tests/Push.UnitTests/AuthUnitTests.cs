using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Push.Hosting.Cluster;
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
    [InlineData("/something.Else/Method", false, false)]
    public void ControlCredential_MayCallOnlyTheControlApi(string path, bool forwarded, bool allowed)
    {
        var why = AccessHandler.MemberOnly(path, forwarded);

        Assert.Equal(allowed, why is null);
    }
}

public sealed class BearerInterceptorTests
{
    [Fact]
    public void SharedCallOptions_EveryCallGetsOneAuthorizationHeader_AndTheSharedHeadersStayUntouched()
    {
        // One CallOptions used for several peer calls, as a scatter does.
        var shared = new CallOptions(new Metadata { { "push-scope", "local" } });
        var interceptor = new PushChannel.BearerInterceptor("s3cret");
        var method = new Method<string, string>(MethodType.Unary, "push.v1.GatewayService", "GetStatus", Marshallers.StringMarshaller, Marshallers.StringMarshaller);
        var context = new ClientInterceptorContext<string, string>(method, null, shared);

        var first = interceptor.With(context);
        var second = interceptor.With(new ClientInterceptorContext<string, string>(method, null, first.Options));
        var third = interceptor.With(context);

        foreach (var c in new[] { first, second, third })
        {
            Assert.Single(c.Options.Headers!, h => h.Key == "authorization");
            Assert.Equal("Bearer s3cret", c.Options.Headers!.GetValue("authorization"));
            Assert.Equal("local", c.Options.Headers!.GetValue("push-scope"));
        }
        Assert.Single(shared.Headers!);
        Assert.DoesNotContain(shared.Headers!, h => h.Key == "authorization");
    }
}
