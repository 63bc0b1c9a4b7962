using LshCluster.Storage;
using Orleans.Runtime.Placement;

namespace LshCluster.Grains.Placement;

/// <summary>
/// Chooses the silo of a shard grain's new activation: the owner <see cref="RendezvousPlacement.Owners"/> gives the
/// shard among the silos Orleans lists as compatible, named by their endpoints (a restarted silo keeps its place).
/// The placement of all shards is computed once per membership and reused.
/// </summary>
internal sealed class ShardPlacementDirector(IDedupStore store) : IPlacementDirector
{
    private readonly Lazy<Task<int>> _shardCount = new(async () =>
        (await store.ReadSchemeAsync().ConfigureAwait(false) ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create)")).ShardCount);

    private volatile Placement? _last;

    /// <inheritdoc />
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        var shard = checked((int)target.GrainIdentity.GetIntegerKey());
        var shardCount = await _shardCount.Value.ConfigureAwait(false);
        if (shard < 0 || shard >= shardCount)
        {
            // Not a shard of this cluster: the activation itself refuses it; place it here rather than fail placement.
            return silos[0];
        }

        var placement = _last;
        if (placement is null || !placement.Matches(silos))
        {
            _last = placement = new Placement(silos, shardCount);
        }

        return placement.Owner(shard);
    }

    /// <summary>The owner of every shard for one set of silos.</summary>
    private sealed class Placement
    {
        private readonly Dictionary<string, SiloAddress> _byName;
        private readonly string?[] _owners;

        public Placement(SiloAddress[] silos, int shardCount)
        {
            _byName = silos.ToDictionary(Name, StringComparer.Ordinal);
            _owners = RendezvousPlacement.Owners(shardCount, [.. _byName.Keys]);
        }

        public bool Matches(SiloAddress[] silos) => silos.Length == _byName.Count && silos.All(s => _byName.TryGetValue(Name(s), out var known) && known.Equals(s));

        public SiloAddress Owner(int shard) => _byName[_owners[shard]!];

        private static string Name(SiloAddress silo) => silo.Endpoint.ToString();
    }
}
