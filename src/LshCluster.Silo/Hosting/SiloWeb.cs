using System.Net;
using System.Security.Cryptography.X509Certificates;
using LshCluster.Silo.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LshCluster.Silo.Hosting;

/// <summary>
/// A silo's web host: gRPC on an HTTP/2-only port, and the REST API, dashboard and metrics on a port of their own
/// (browsers, curl and scripts speak HTTP/1.1, and on a plain-text port Kestrel speaks h2c only on an HTTP/2-only
/// endpoint); TLS on both when the options give a certificate.
/// </summary>
internal sealed class SiloWeb
{
    private readonly SiloOptions _options;
    private ListenOptions? _grpc;
    private ListenOptions? _http;

    private SiloWeb(SiloOptions options, WebApplicationBuilder builder)
    {
        _options = options;
        Builder = builder;
    }

    /// <summary>The builder, for the caller's services and routes.</summary>
    public WebApplicationBuilder Builder { get; }

    /// <summary>Where the gRPC port listens (known once started; port 0 picks one).</summary>
    public IPEndPoint GrpcEndpoint => _grpc?.IPEndPoint ?? throw new InvalidOperationException("not listening yet");

    /// <summary>The URL other silos and clients call: the advertised one, or the scheme and the gRPC endpoint.</summary>
    public string Address => _options.Advertise?.TrimEnd('/') ?? $"{Scheme}://{GrpcEndpoint}";

    /// <summary>The URL of the REST API, dashboard and metrics, or null when turned off.</summary>
    public string? HttpAddress => _http is null ? null : $"{Scheme}://{_http.IPEndPoint}";

    private string Scheme => _options.TlsCertificatePath is null ? "http" : "https";

    /// <summary>A web host listening where <paramref name="options"/> say, logging the access policy to <paramref name="log"/>.</summary>
    public static SiloWeb Create(SiloOptions options, ILoggerFactory? logs, ILogger log)
    {
        var endpoint = ListenAddress.Parse(options.Listen);
        var httpEndpoint = options.HttpListen switch
        {
            "" => null,
            null => new IPEndPoint(endpoint.Address, endpoint.Port == 0 ? 0 : endpoint.Port + 1),
            var given => ListenAddress.Parse(given),
        };
        var beyondLoopback = !IPAddress.IsLoopback(endpoint.Address) || (httpEndpoint is not null && !IPAddress.IsLoopback(httpEndpoint.Address));
        AccessControl.LogPolicy(log, options.Credentials, plainTextBeyondLoopback: beyondLoopback && options.TlsCertificatePath is null);

        var builder = Http.HttpSurface.CreateBuilder(logs, options.Credentials);
        builder.Services.AddLshClusterGrpc();

        // Signals belong to the silo, not to the web host: SIGTERM must drain first (ASP.NET's console lifetime would
        // stop the server at once and let the runtime end the process).
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, ManualLifetime>();
        var web = new SiloWeb(options, builder);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(endpoint, l =>
            {
                web._grpc = l;
                l.Protocols = HttpProtocols.Http2;
                web.UseTls(l);
            });
            if (httpEndpoint is not null)
            {
                k.Listen(httpEndpoint, l =>
                {
                    web._http = l;
                    l.Protocols = options.TlsCertificatePath is null ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2; // h2 needs ALPN
                    web.UseTls(l);
                });
            }

            k.Limits.MaxRequestBodySize = null;
            k.Limits.Http2.InitialConnectionWindowSize = 4 * 1024 * 1024;
            k.Limits.Http2.InitialStreamWindowSize = 2 * 1024 * 1024;
        });
        return web;
    }

    /// <summary>Loads a TLS certificate, naming the file when it cannot be used.</summary>
    public static X509Certificate2 LoadTls(Func<X509Certificate2> load, string path)
    {
        try
        {
            return load();
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new ArgumentException($"tls: '{path}' cannot be used: {e.Message}", nameof(SiloOptions.TlsCertificatePath), e);
        }
    }

    private void UseTls(ListenOptions listener)
    {
        if (_options.TlsCertificatePath is { } certificate)
        {
            listener.UseHttps(LoadTls(() => X509Certificate2.CreateFromPemFile(certificate, _options.TlsKeyPath), certificate));
        }
    }
}

/// <summary>A host lifetime that reacts to no signal: the silo decides when its web server stops.</summary>
internal sealed class ManualLifetime : Microsoft.Extensions.Hosting.IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
