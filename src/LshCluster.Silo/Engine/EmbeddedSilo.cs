using System.Net;
using LshCluster.Grains.Hosting;
using LshCluster.Grains.Placement;
using LshCluster.Grains.Shards;
using LshCluster.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The embedded engine's Orleans silo: one silo in this process hosting every shard grain, the same grains a cluster's
/// silos host (ADR 0006: one engine). Clustered with itself alone on loopback and without a gateway, so nothing outside
/// the process can call it. Its grains take their shards from a preload: one pass over the store loads them all. It logs
/// nothing (no provider): a failed grain call reaches the engine's caller as an exception.
/// </summary>
internal sealed class EmbeddedSilo : IAsyncDisposable
{
    private readonly IHost _host;

    private EmbeddedSilo(IHost host)
    {
        _host = host;
        Grains = host.Services.GetRequiredService<IGrainFactory>();
        Local = host.Services.GetRequiredService<LocalShards>();
    }

    /// <summary>Calls the silo's grains.</summary>
    public IGrainFactory Grains { get; }

    /// <summary>The shards whose grains are active.</summary>
    public LocalShards Local { get; }

    /// <summary>
    /// Starts the silo over <paramref name="store"/> (which stays the caller's), its grains taking <paramref name="preloaded"/>,
    /// whose buckets hold handles into <paramref name="directory"/>.
    /// </summary>
    public static async Task<EmbeddedSilo> StartAsync(IDedupStore store, Shard?[] preloaded, VectorDirectory directory, TimeProvider time, CancellationToken cancellationToken)
    {
        var host = new HostBuilder()
            .UseOrleans(silo =>
            {
                silo.UseLocalhostClustering(siloPort: Hosting.ListenAddress.FreePort(IPAddress.Loopback), gatewayPort: 0);
                silo.Services.AddSingleton(directory); // the preloaded shards' buckets name their members in it
                silo.AddLshClusterShards(store);
                silo.Services.Replace(ServiceDescriptor.Singleton(time));
                silo.Services.AddSingleton<IShardSource>(sp => new PreloadedShardSource(preloaded, sp.GetRequiredService<StoreShardSource>()));
            })
            .Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new EmbeddedSilo(host);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // Not gracefully: no other silo takes over these grains, and they hold nothing the store does not (every write
        // went through the engine's committer), so their deactivation one by one would only cost time.
        using var now = new CancellationTokenSource();
        await now.CancelAsync().ConfigureAwait(false);
        await _host.StopAsync(now.Token).ConfigureAwait(false);
        _host.Dispose();
    }
}
