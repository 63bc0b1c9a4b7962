using LshCluster.Silo.Engine;
using LshCluster.Silo.Http;
using LshCluster.Silo.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using SiloStatus = LshCluster.Silo.Http.SiloStatus;

namespace LshCluster.Silo.Hosting;

/// <summary>
/// The embedded engine behind the same HTTP surface as a silo (<c>lshc serve --store sqlite:…</c>): one process owns
/// every shard, so <c>/v1/silos</c> lists itself alone.
/// </summary>
public sealed class EmbeddedServer : IAsyncDisposable, IEngineHost
{
    private readonly DedupEngine _engine;
    private WebApplication? _web;
    private volatile bool _stopping;

    private EmbeddedServer(DedupEngine engine) => _engine = engine;

    /// <summary>The URL it answers on.</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>Whether it answers requests (false once it stops).</summary>
    public bool IsServing => !_stopping;

    /// <summary>
    /// Starts serving <paramref name="engine"/> (which stays the caller's to dispose) on <paramref name="listen"/>
    /// (HOST:PORT; port 0 picks one), to callers with one of <paramref name="credentials"/>' keys (default: anyone).
    /// </summary>
    public static async Task<EmbeddedServer> StartAsync(DedupEngine engine, string listen, ILoggerFactory? logs = null, Credentials? credentials = null, CancellationToken cancellationToken = default)
    {
        var server = new EmbeddedServer(engine);
        var endpoint = ListenAddress.Parse(listen);
        credentials ??= Credentials.None;
        if (logs is not null)
        {
            AccessControl.LogPolicy(logs.CreateLogger("LshCluster.Server"), credentials, plainTextBeyondLoopback: !System.Net.IPAddress.IsLoopback(endpoint.Address));
        }

        var builder = HttpSurface.CreateBuilder(logs, credentials);
        ListenOptions? listener = null;
        builder.WebHost.ConfigureKestrel(k => k.Listen(endpoint, l =>
        {
            listener = l;
            l.Protocols = HttpProtocols.Http1;
        }));
        var web = builder.Build();
        HttpSurface.Map(web, server);
        await web.StartAsync(cancellationToken).ConfigureAwait(false);
        server._web = web;
        server.Address = $"http://{listener!.IPEndPoint}";
        return server;
    }

    /// <inheritdoc />
    public DedupEngine ServingEngine() => IsServing ? _engine : throw new NotServingException($"{Address} is shutting down");

    /// <inheritdoc />
    public Task<IReadOnlyList<SiloStatus>> ListSilosAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<SiloStatus>>([new SiloStatus(Address, 0, IsServing ? "active" : "left", _engine.Scheme.ShardCount, true)]);

    /// <inheritdoc />
    public Task<IReadOnlyList<ShardStatus>> ListShardsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ShardStatus>>([.. Enumerable.Range(0, _engine.Scheme.ShardCount).Select(s => new ShardStatus(s, Address, 0))]);

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
