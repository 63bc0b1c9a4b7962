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
    // The read of the scheme under way or done: one for all callers (a silo places up to a thousand shards at once,
    // and a read each would take as many connections); a failed one is replaced at the next call.
    private Lazy<Task<int>>? _shardCount;
    private volatile Placement? _last;

    /// <summary>S, from the cluster's scheme, read once it can be: a failed read is not kept, the next call reads again.</summary>
    /// <exception cref="ShardActivationException">The store could not be read (it is restarting, or away); retry.</exception>
    public Task<int> ShardCountAsync()
    {
        while (true)
        {
            var current = Volatile.Read(ref _shardCount);
            if (current is not null && !(current.IsValueCreated && (current.Value.IsFaulted || current.Value.IsCanceled)))
            {
                return current.Value;
            }

            var next = new Lazy<Task<int>>(ReadShardCountAsync);
            if (Interlocked.CompareExchange(ref _shardCount, next, current) == current)
            {
                return next.Value;
            }
        }
    }

    private async Task<int> ReadShardCountAsync()
    {
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

        return (scheme ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create)")).ShardCount;
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
