using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Core.Kernels;
using LshCluster.Storage;

namespace LshCluster.Grains.Shards;

/// <summary>Fills shards that have just been claimed from the store.</summary>
internal static class ShardLoader
{
    /// <summary>
    /// Loads the shards present in <paramref name="shards"/> (the others are null: owned elsewhere): their home
    /// records and deleted ids, their bucket entries, and the parent pointers of their vectors in forests rebuilt from every stored
    /// edge. Each forest's roots are the smallest ids of their components, as the link protocol keeps them in memory,
    /// so pointers loaded here agree with those other silos hold.
    /// </summary>
    public static async Task LoadAsync(IDedupStore store, LshScheme scheme, Shard?[] shards, long orphansBefore, CancellationToken cancellationToken)
    {
        var known = new HashSet<long>();
        var duplicates = new List<HomeRecord>();
        var hasher = new LshHasher(scheme);
        await foreach (var v in store.ReadVectorsAsync(0, cancellationToken).ConfigureAwait(false))
        {
            known.Add(v.VectorId);
            if (shards[VectorId.HomeShard(v.VectorId)] is { } home)
            {
                LoadRecord(home, v, hasher, duplicates);
            }

            for (var t = 0; t < v.BucketKeys.Length; t++)
            {
                shards[scheme.ShardOfBucket(t, v.BucketKeys[t])]?.LoadBucketEntry(v.BucketKeys[t], v.VectorId, v.SketchLow, v.SketchHigh);
            }
        }

        await LoadDeletedAndForestsAsync(store, scheme, shards, known, duplicates, orphansBefore, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Loads the shards of one group of activations from their own rows (their home vectors by the home-shard index,
    /// their buckets from their bucket logs), a few at a time; the forests come from one pass over the stored ids and
    /// edges for the whole group, so a silo taking hundreds of shards at a restart reads its share of the vectors and
    /// the edges once, not the whole store once per shard.
    /// </summary>
    public static async Task LoadShardsAsync(IDedupStore store, LshScheme scheme, IReadOnlyList<Shard> group, long orphansBefore, int concurrency, CancellationToken cancellationToken)
    {
        // The log keeps the entries of vectors deleted since; they would only cost candidate checks.
        var deleted = new HashSet<long>();
        await foreach (var id in store.ReadDeletedAsync(cancellationToken).ConfigureAwait(false))
        {
            deleted.Add(id);
        }

        var duplicates = new List<HomeRecord>();
        await Parallel.ForEachAsync(group, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (shard, token) =>
        {
            var found = new List<HomeRecord>();
            var hasher = new LshHasher(scheme);
            await foreach (var v in store.ReadHomeVectorsAsync(shard.Index, token).ConfigureAwait(false))
            {
                LoadRecord(shard, v, hasher, found);
            }

            await foreach (var entry in store.ReadBucketEntriesAsync(shard.Index, token).ConfigureAwait(false))
            {
                if (!deleted.Contains(entry.VectorId))
                {
                    shard.LoadBucketEntry(entry.Key, entry.VectorId, entry.SketchLow, entry.SketchHigh);
                }
            }

            lock (duplicates)
            {
                duplicates.AddRange(found);
            }
        }).ConfigureAwait(false);

        var known = new HashSet<long>();
        await foreach (var id in store.ReadVectorIdsAsync(cancellationToken).ConfigureAwait(false))
        {
            known.Add(id);
        }

        var shards = new Shard?[scheme.ShardCount];
        foreach (var shard in group)
        {
            shards[shard.Index] = shard;
        }

        await LoadDeletedAndForestsAsync(store, scheme, shards, known, duplicates, orphansBefore, cancellationToken).ConfigureAwait(false);
    }

    private static void LoadRecord(Shard home, StoredVector v, LshHasher hasher, List<HomeRecord> duplicates)
    {
        var projection = new float[hasher.ProjectionLength];
        hasher.ComputeSketch(v.Values, projection);
        var record = new HomeRecord(v.VectorId, v.ExternalId, v.Values, VectorMath.SquaredNorm(v.Values), projection, v.InsertedAt, v.Verdict);
        home.LoadRecord(record);
        if (v.Verdict.IsDuplicate)
        {
            duplicates.Add(record);
        }
    }

    // Deleted ids, then the forests from every edge whose two ends are known, then verdicts naming lost vectors.
    private static async Task LoadDeletedAndForestsAsync(IDedupStore store, LshScheme scheme, Shard?[] shards, HashSet<long> known, List<HomeRecord> loaded, long orphansBefore, CancellationToken cancellationToken)
    {
        // Deleted vectors keep their place in the forests (ghosts, ADR 0005): their edges are replayed like any other.
        await foreach (var id in store.ReadDeletedAsync(cancellationToken).ConfigureAwait(false))
        {
            known.Add(id);
            shards[VectorId.HomeShard(id)]?.LoadDeleted(id);
        }

        // A verdict can name a vector that never got stored: a concurrent batch whose commit failed (the engine then
        // stopped). Those verdicts are derived again from the stored edges below — but only for vectors older than
        // orphansBefore: a younger one may belong to a batch another silo has yet to commit.
        bool Missing(long id) => !known.Contains(id) && id < orphansBefore;
        var orphans = loaded.Where(r => Missing(r.AcknowledgedVerdict.Canonical) || Missing(r.AcknowledgedVerdict.BestMatch))
            .ToDictionary(r => r.Id);
        var bestOf = new Dictionary<long, (float Cosine, long Other)>();

        // Replay every edge whose two ends are stored (an edge to a vector whose own commit never happened is moot).
        var forests = new UnionFind[scheme.Rungs.Count];
        for (var r = 0; r < forests.Length; r++)
        {
            forests[r] = new UnionFind();
        }

        await foreach (var e in store.ReadEdgesAsync(0, cancellationToken).ConfigureAwait(false))
        {
            if (!known.Contains(e.A) || !known.Contains(e.B))
            {
                continue;
            }

            foreach (var (self, other) in new[] { (e.A, e.B), (e.B, e.A) })
            {
                if (orphans.ContainsKey(self) && (!bestOf.TryGetValue(self, out var best) || e.Cosine > best.Cosine))
                {
                    bestOf[self] = (e.Cosine, other);
                }
            }

            for (var r = 0; r < forests.Length; r++)
            {
                if (e.Cosine >= scheme.Rungs[r])
                {
                    forests[r].Union(e.A, e.B);
                }
            }
        }

        for (var r = 0; r < forests.Length; r++)
        {
            foreach (var (child, root) in forests[r].NonRoots())
            {
                shards[VectorId.HomeShard(child)]?.Link(child, root, r);
            }
        }

        foreach (var orphan in orphans.Values)
        {
            if (!bestOf.TryGetValue(orphan.Id, out var best))
            {
                orphan.ReplaceVerdictAtLoad(new StoredVerdict(false, orphan.Id, 0, 0));
                continue;
            }

            var rung = 0;
            while (rung < scheme.Rungs.Count - 1 && best.Cosine < scheme.Rungs[rung])
            {
                rung++;
            }

            orphan.ReplaceVerdictAtLoad(new StoredVerdict(true, forests[rung].Find(orphan.Id), best.Other, best.Cosine));
        }
    }
}
