using LshCluster.Abstractions.Shards;
using LshCluster.Core.Hashing;
using LshCluster.Storage;

namespace LshCluster.Grains.Placement;

/// <summary>
/// Where each shard belongs among a set of silos: <see cref="RendezvousPlacement.Owners"/> over the silos' endpoints
/// (a restarted silo keeps its place), computed once per set of silos. Shared by the placement director, the shard
/// grains and the rebalancer of one silo, so that all three agree.
/// </summary>
internal sealed class ShardPlacementTable(IDedupStore store)
{
    private int _shardCount; // 0 until the scheme has been read
    private volatile Placement? _last;

    /// <summary>S, from the cluster's scheme, read once it can be: a failed read is not kept, the next call reads again.</summary>
    /// <exception cref="ShardActivationException">The store could not be read (it is restarting, or away); retry.</exception>
    public async Task<int> ShardCountAsync()
    {
        var known = Volatile.Read(ref _shardCount);
        if (known > 0)
        {
            return known;
        }

        LshScheme? scheme;
        try
        {
            scheme = await store.ReadSchemeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            // Placement runs inside a grain call, whose caller may be on another silo and cannot deserialize the
            // driver's exception: the error it can read, and retry on.
            throw new ShardActivationException($"shards cannot be placed yet: the cluster's scheme could not be read from the store ({e.Message}); retry");
        }

        var count = (scheme ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create)")).ShardCount;
        Volatile.Write(ref _shardCount, count);
        return count;
    }

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
