using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Storage;

namespace LshCluster.Grains.Shards;

/// <summary>Where a shard grain's activation gets its shard: claimed in the store (a new epoch) and loaded.</summary>
internal interface IShardSource
{
    /// <summary>The shard <paramref name="index"/>, claimed for <paramref name="owner"/> at a new epoch and loaded.</summary>
    Task<Shard> ActivateAsync(int index, string owner, CancellationToken cancellationToken);
}

/// <summary>Claims one shard and loads it from its own rows (a silo of a cluster: its shards come and go one by one).</summary>
internal sealed class StoreShardSource(IDedupStore store, TimeProvider time) : IShardSource
{
    // Shards load a few at a time: a silo that starts or takes over activates hundreds of grains at once, and each load
    // holds a database connection (the pool, and the server's connection limit, are far smaller than S).
    private const int ConcurrentLoads = 4;

    private readonly SemaphoreSlim _loads = new(ConcurrentLoads);
    private LshScheme? _scheme;

    public async Task<Shard> ActivateAsync(int index, string owner, CancellationToken cancellationToken)
    {
        await _loads.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await LoadAsync(index, owner, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _loads.Release();
        }
    }

    private async Task<Shard> LoadAsync(int index, string owner, CancellationToken cancellationToken)
    {
        var scheme = _scheme ??= await store.ReadSchemeAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create)");
        if (index < 0 || index >= scheme.ShardCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"shard {index} does not exist: the cluster has {scheme.ShardCount} shards");
        }

        var epochs = await store.ClaimShardsAsync(owner, [index], cancellationToken).ConfigureAwait(false);
        var shard = new Shard(index, scheme.Rungs.Count, time) { Epoch = epochs[0] };

        // Verdicts naming vectors that never got stored are derived again only for vectors old enough that no batch
        // can still be committing them (twice the longest a request may run).
        var orphansBefore = VectorId.Create(Math.Max(0, (long)(time.GetUtcNow() - TimeSpan.FromMinutes(2) - VectorId.Epoch).TotalMilliseconds), 0, 0);
        await ShardLoader.LoadOneAsync(store, scheme, shard, orphansBefore, cancellationToken).ConfigureAwait(false);
        return shard;
    }
}

/// <summary>
/// Shards claimed and loaded together before the silo started (the embedded engine: one process owns them all, and one
/// pass over the store loads them faster than a pass per shard). Each is handed out once; an activation after that
/// (the grain was deactivated) claims and loads afresh.
/// </summary>
internal sealed class PreloadedShardSource(Shard?[] shards, StoreShardSource fallback) : IShardSource
{
    public Task<Shard> ActivateAsync(int index, string owner, CancellationToken cancellationToken)
    {
        var shard = index >= 0 && index < shards.Length ? Interlocked.Exchange(ref shards[index], null) : null;
        return shard is not null ? Task.FromResult(shard) : fallback.ActivateAsync(index, owner, cancellationToken);
    }
}
