using System.Net;
using LshCluster.Abstractions.Shards;
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

    // The preload the grains take their shards from (each slot once); refilled when every shard is loaded again.
    private readonly Shard?[] _preloaded;

    private EmbeddedSilo(IHost host, Shard?[] preloaded, VectorDirectory directory)
    {
        _host = host;
        _preloaded = preloaded;
        Directory = directory;
        Grains = host.Services.GetRequiredService<IGrainFactory>();
        Local = host.Services.GetRequiredService<LocalShards>();
    }

    /// <summary>Calls the silo's grains.</summary>
    public IGrainFactory Grains { get; }

    /// <summary>The shards whose grains are active.</summary>
    public LocalShards Local { get; }

    /// <summary>The silo's vector directory, which the shards' buckets name their members in.</summary>
    public VectorDirectory Directory { get; }

    /// <summary>
    /// Hands <paramref name="shards"/> (claimed and loaded by the caller) to their grains: each grain's activation ends,
    /// and the next, activated here at once, takes its new shard. Call it with no request under way.
    /// </summary>
    public async Task ReplaceShardsAsync(Shard?[] shards)
    {
        for (var s = 0; s < shards.Length; s++)
        {
            Volatile.Write(ref _preloaded[s], shards[s]);
        }

        var grains = Enumerable.Range(0, shards.Length).Select(s => Grains.GetGrain<IShardGrain>(s)).ToList();
        await Task.WhenAll(grains.Select(g => g.ReloadAsync())).ConfigureAwait(false);
        await Task.WhenAll(grains.Select(g => g.CountsAsync())).ConfigureAwait(false);
    }

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

        return new EmbeddedSilo(host, preloaded, directory);
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
