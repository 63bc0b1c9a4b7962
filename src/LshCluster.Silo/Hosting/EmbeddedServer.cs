using LshCluster.Silo.Engine;
using LshCluster.Silo.Http;
using LshCluster.Silo.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SiloStatus = LshCluster.Silo.Http.SiloStatus;

namespace LshCluster.Silo.Hosting;

/// <summary>
/// The embedded engine behind the same surfaces as a silo (<c>lshc serve --store sqlite:…</c>): REST, dashboard and
/// metrics over HTTP/1.1 and, on a port of its own, the gRPC API of lshcluster.proto (cleartext HTTP/2 cannot share a
/// port with HTTP/1.1 without TLS). One process owns every shard, so <c>/v1/silos</c> lists itself alone.
/// </summary>
public sealed class EmbeddedServer : IAsyncDisposable, IEngineHost
{
    private readonly DedupEngine _engine;
    private WebApplication? _web;
    private volatile bool _stopping;

    private EmbeddedServer(DedupEngine engine) => _engine = engine;

    /// <summary>The URL it answers REST on.</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>The URL it answers gRPC on (what gRPC clients and <c>lshc … --server</c> call), or null when turned off.</summary>
    public string? GrpcAddress { get; private set; }

    /// <summary>Whether it answers requests (false once it stops).</summary>
    public bool IsServing => !_stopping;

    /// <summary>
    /// Starts serving <paramref name="engine"/> (which stays the caller's to dispose): REST on <paramref name="listen"/>
    /// and gRPC on <paramref name="grpcListen"/> (HOST:PORT; port 0 picks one; null: no gRPC), to callers with one of
    /// <paramref name="credentials"/>' keys (default: anyone).
    /// </summary>
    public static async Task<EmbeddedServer> StartAsync(DedupEngine engine, string listen, ILoggerFactory? logs = null, Credentials? credentials = null, CancellationToken cancellationToken = default, string? grpcListen = null)
    {
        var server = new EmbeddedServer(engine);
        var endpoint = ListenAddress.Parse(listen);
        var grpcEndpoint = grpcListen is null ? null : ListenAddress.Parse(grpcListen);
        credentials ??= Credentials.None;
        if (logs is not null)
        {
            var beyondLoopback = !System.Net.IPAddress.IsLoopback(endpoint.Address) || (grpcEndpoint is not null && !System.Net.IPAddress.IsLoopback(grpcEndpoint.Address));
            AccessControl.LogPolicy(logs.CreateLogger("LshCluster.Server"), credentials, plainTextBeyondLoopback: beyondLoopback);
        }

        var builder = HttpSurface.CreateBuilder(logs, credentials);
        builder.Services.AddLshClusterGrpc();
        builder.Services.AddSingleton<IEngineHost>(server);
        ListenOptions? listener = null;
        ListenOptions? grpcListener = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(endpoint, l =>
            {
                listener = l;
                l.Protocols = HttpProtocols.Http1;
            });
            if (grpcEndpoint is not null)
            {
                k.Listen(grpcEndpoint, l =>
                {
                    grpcListener = l;
                    l.Protocols = HttpProtocols.Http2;
                });
            }

            k.Limits.MaxRequestBodySize = null; // gRPC bounds its messages itself (GrpcServices.MaxReceiveMessageSize)
            k.Limits.Http2.InitialConnectionWindowSize = 4 * 1024 * 1024;
            k.Limits.Http2.InitialStreamWindowSize = 2 * 1024 * 1024;
        });
        var web = builder.Build();
        HttpSurface.Map(web, server);
        web.MapLshClusterGrpc();
        await web.StartAsync(cancellationToken).ConfigureAwait(false);
        server._web = web;
        server.Address = $"http://{listener!.IPEndPoint}";
        server.GrpcAddress = grpcListener is null ? null : $"http://{grpcListener.IPEndPoint}";
        return server;
    }

    /// <summary>
    /// Where gRPC listens by default: the port after <paramref name="listen"/>'s (as a silo puts REST after gRPC), or
    /// any free port when <paramref name="listen"/> picks one.
    /// </summary>
    public static string GrpcBeside(string listen)
    {
        var endpoint = ListenAddress.Parse(listen);
        return new System.Net.IPEndPoint(endpoint.Address, endpoint.Port == 0 ? 0 : endpoint.Port + 1).ToString();
    }

    /// <inheritdoc />
    public DedupEngine ServingEngine() => IsServing ? _engine : throw new NotServingException($"{Address} is shutting down");

    /// <inheritdoc />
    public Task<IReadOnlyList<SiloStatus>> ListSilosAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<SiloStatus>>([new SiloStatus(GrpcAddress ?? Address, 0, IsServing ? "active" : "left", _engine.Scheme.ShardCount, true)]);

    /// <inheritdoc />
    public Task<IReadOnlyList<ShardStatus>> ListShardsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ShardStatus>>([.. Enumerable.Range(0, _engine.Scheme.ShardCount).Select(s => new ShardStatus(s, GrpcAddress ?? Address, 0))]);

    /// <inheritdoc />
    public Task<int?> BeginDrainAsync(CancellationToken cancellationToken) => Task.FromResult<int?>(null);

    /// <summary>Stops answering, then stops listening.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        if (_web is not null)
        {
            await _web.StopAsync().ConfigureAwait(false);
            await _web.DisposeAsync().ConfigureAwait(false);
        }
    }
}
