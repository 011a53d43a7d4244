using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Push.Gateway;
using Push.Gateway.Transport;

namespace Push.UnitTests.Transport;

/// <summary>
/// A real Kestrel server in this process with the lean transport registered the way PushHost does it: one
/// <see cref="LeanEndPoint"/> (the connection handler under test) and one plain endpoint (must stay on Kestrel's
/// socket transport), both on 127.0.0.1 port 0.
/// </summary>
internal sealed class LeanTransportServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<ConnectionContext> _accepted = Channel.CreateUnbounded<ConnectionContext>();

    private LeanTransportServer(WebApplication app) => _app = app;

    public IPEndPoint Lean { get; private set; } = null!;
    public IPEndPoint Plain { get; private set; } = null!;

    /// <summary>The type of the ConnectionContext of each connection to the plain endpoint.</summary>
    public Channel<Type> PlainTypes { get; } = Channel.CreateUnbounded<Type>();

    public static async Task<LeanTransportServer> StartAsync(Func<ConnectionContext, Task> handler, X509Certificate2? tls = null, Action<KestrelServerOptions>? kestrel = null, TimeSpan? shutdown = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IConnectionListenerFactory, LeanTransportFactory>();
        builder.Services.Configure<GatewayOptions>(_ => { });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown ?? TimeSpan.FromSeconds(5));
        ListenOptions? lean = null;
        ListenOptions? plain = null;
        LeanTransportServer? server = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            kestrel?.Invoke(k);
            k.Listen(new LeanEndPoint(IPAddress.Loopback, 0), lo =>
            {
                lean = lo;
                if (tls is not null)
                {
                    lo.UseHttps(tls);
                }
                lo.Run(async c =>
                {
                    server!._accepted.Writer.TryWrite(c);
                    await handler(c);
                });
            });
            k.Listen(IPAddress.Loopback, 0, lo =>
            {
                plain = lo;
                lo.Run(c =>
                {
                    server!.PlainTypes.Writer.TryWrite(c.GetType());
                    return Task.CompletedTask;
                });
            });
        });
        var app = builder.Build();
        server = new LeanTransportServer(app);
        await app.StartAsync(TestTimeouts.Token());
        server.Lean = lean!.IPEndPoint!;
        server.Plain = plain!.IPEndPoint!;
        return server;
    }

    /// <summary>The next connection the lean endpoint's handler was given.</summary>
    public async Task<ConnectionContext> AcceptedAsync() => await _accepted.Reader.ReadAsync(TestTimeouts.Token());

    public async Task<Socket> ConnectAsync(IPEndPoint? to = null)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(to ?? Lean, TestTimeouts.Token());
        return s;
    }

    public Task StopAsync() => _app.StopAsync(TestTimeouts.Token(TimeSpan.FromSeconds(30)));

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    /// <summary>A self-signed certificate for 127.0.0.1 with its private key usable by SslStream.</summary>
    public static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }
}

/// <summary>Bound of every wait in the transport tests.</summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(20);

    public static CancellationToken Token(TimeSpan? timeout = null) => new CancellationTokenSource(timeout ?? Default).Token;
}
