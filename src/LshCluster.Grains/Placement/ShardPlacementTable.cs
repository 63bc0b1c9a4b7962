using LshCluster.Storage;

namespace LshCluster.Grains.Placement;

/// <summary>
/// Where each shard belongs among a set of silos: <see cref="RendezvousPlacement.Owners"/> over the silos' endpoints
/// (a restarted silo keeps its place), computed once per set of silos. Shared by the placement director, the shard
/// grains and the rebalancer of one silo, so that all three agree.
/// </summary>
internal sealed class ShardPlacementTable(IDedupStore store)
{
    private readonly Lazy<Task<int>> _shardCount = new(async () =>
        (await store.ReadSchemeAsync().ConfigureAwait(false)
            ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create)")).ShardCount);

    private volatile Placement? _last;

    /// <summary>S, from the cluster's scheme.</summary>
    public Task<int> ShardCountAsync() => _shardCount.Value;

    /// <summary>The owner of every shard among <paramref name="silos"/> (at least one).</summary>
    public async Task<SiloAddress[]> OwnersAsync(IReadOnlyCollection<SiloAddress> silos)
    {
        var shardCount = await ShardCountAsync().ConfigureAwait(false);
        var placement = _last;
        if (placement is null || !placement.Matches(silos))
        {
            _last = placement = new Placement(silos, shardCount);
        }

        return placement.Owners;
    }

    private sealed class Placement
    {
        private readonly Dictionary<string, SiloAddress> _byName;

        public Placement(IReadOnlyCollection<SiloAddress> silos, int shardCount)
        {
            if (silos.Count == 0)
            {
                throw new InvalidOperationException("no silo to place shards on");
            }

            _byName = silos.ToDictionary(Name, StringComparer.Ordinal);
            Owners = [.. RendezvousPlacement.Owners(shardCount, [.. _byName.Keys]).Select(name => _byName[name!])];
        }

        public SiloAddress[] Owners { get; }

        public bool Matches(IReadOnlyCollection<SiloAddress> silos) =>
            silos.Count == _byName.Count && silos.All(s => _byName.TryGetValue(Name(s), out var known) && known.Equals(s));

        private static string Name(SiloAddress silo) => silo.Endpoint.ToString();
    }
}
