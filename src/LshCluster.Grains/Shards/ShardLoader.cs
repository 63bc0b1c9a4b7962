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
        var known = new List<long>();
        var duplicates = new List<HomeRecord>();
        var hasher = new LshHasher(scheme);
        await foreach (var v in store.ReadVectorsAsync(cancellationToken).ConfigureAwait(false))
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

        var deleted = await ReadDeletedAsync(store, cancellationToken).ConfigureAwait(false);
        await LoadDeletedAndForestsAsync(store, scheme, shards, known, deleted, duplicates, orphansBefore, cancellationToken).ConfigureAwait(false);
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
        var deleted = await ReadDeletedAsync(store, cancellationToken).ConfigureAwait(false);
        var deletedSet = deleted.ToHashSet();

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
                if (!deletedSet.Contains(entry.VectorId))
                {
                    shard.LoadBucketEntry(entry.Key, entry.VectorId, entry.SketchLow, entry.SketchHigh);
                }
            }

            lock (duplicates)
            {
                duplicates.AddRange(found);
            }
        }).ConfigureAwait(false);

        var known = new List<long>();
        await foreach (var id in store.ReadVectorIdsAsync(cancellationToken).ConfigureAwait(false))
        {
            known.Add(id);
        }

        var shards = new Shard?[scheme.ShardCount];
        foreach (var shard in group)
        {
            shards[shard.Index] = shard;
        }

        await LoadDeletedAndForestsAsync(store, scheme, shards, known, deleted, duplicates, orphansBefore, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<long>> ReadDeletedAsync(IDedupStore store, CancellationToken cancellationToken)
    {
        var deleted = new List<long>();
        await foreach (var id in store.ReadDeletedAsync(cancellationToken).ConfigureAwait(false))
        {
            deleted.Add(id);
        }

        return deleted;
    }

    private static void LoadRecord(Shard home, StoredVector v, LshHasher hasher, List<HomeRecord> duplicates)
    {
        float[] projection = hasher.ProjectionLength == 0 ? [] : new float[hasher.ProjectionLength]; // [] is shared: no array per vector
        hasher.ComputeSketch(v.Values, projection);
        var record = new HomeRecord(v.VectorId, v.ExternalId, v.Values, VectorMath.SquaredNorm(v.Values), projection, v.InsertedAt, v.Verdict);
        home.LoadRecord(record);
        if (v.Verdict.IsDuplicate)
        {
            duplicates.Add(record);
        }
    }

    // Deleted ids, then the forests from every edge whose two ends are known, then verdicts naming lost vectors.
    // The forests are int arrays over the known ids in id order (a vector's index is its rank) rather than dictionaries
    // keyed by id: union by the smaller index keeps the smallest id as the root.
    private static async Task LoadDeletedAndForestsAsync(IDedupStore store, LshScheme scheme, Shard?[] shards, List<long> stored, List<long> deleted, List<HomeRecord> loaded, long orphansBefore, CancellationToken cancellationToken)
    {
        // Deleted vectors keep their place in the forests (ghosts, ADR 0005): their edges are replayed like any other.
        foreach (var id in deleted)
        {
            shards[VectorId.HomeShard(id)]?.LoadDeleted(id);
        }

        var recorded = MergeSorted(stored, deleted);

        // Every edge, and every end of one that is neither stored nor recorded as a ghost. Such an end is a ghost whose
        // record is still to come: its batch failed after another batch had committed an edge to it, and records it when
        // it gives up — which may be after this load read the ghosts. It bridges as a recorded ghost does: dropping its
        // edges split, in this activation's forest, clusters that the other shards' memory (which linked through it) and
        // any later load keep joined. An end homed here cannot be a vector stored after the ids were read (its batch was
        // fenced by this shard's epoch, claimed before), so here it is a ghost.
        var edges = new List<VerifiedEdge>();
        var unrecorded = new List<long>();
        await foreach (var e in store.ReadEdgesAsync(cancellationToken).ConfigureAwait(false))
        {
            edges.Add(e);
            foreach (var end in (ReadOnlySpan<long>)[e.A, e.B])
            {
                if (Array.BinarySearch(recorded, end) < 0)
                {
                    unrecorded.Add(end);
                }
            }
        }

        var ids = unrecorded.Count == 0 ? recorded : MergeSorted([.. recorded], unrecorded);
        foreach (var id in unrecorded)
        {
            shards[VectorId.HomeShard(id)]?.LoadDeleted(id);
        }

        // A verdict can name a vector that never got stored: a concurrent batch whose commit failed (the engine then
        // stopped). Those verdicts are derived again from the stored edges below — but only for vectors older than
        // orphansBefore: a younger one may belong to a batch another silo has yet to commit.
        bool Missing(long id) => Array.BinarySearch(recorded, id) < 0 && id < orphansBefore;
        var orphans = loaded.Where(r => Missing(r.AcknowledgedVerdict.Canonical) || Missing(r.AcknowledgedVerdict.BestMatch))
            .ToDictionary(r => r.Id);
        var bestOf = new Dictionary<long, (float Cosine, long Other)>();
        void Consider(long self, long other, float cosine)
        {
            if (orphans.ContainsKey(self) && (!bestOf.TryGetValue(self, out var best) || cosine > best.Cosine))
            {
                bestOf[self] = (cosine, other);
            }
        }

        // Replay every edge.
        var parents = new int[scheme.Rungs.Count][];
        for (var r = 0; r < parents.Length; r++)
        {
            parents[r] = new int[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                parents[r][i] = i;
            }
        }

        foreach (var e in edges)
        {
            var a = Array.BinarySearch(ids, e.A);
            var b = Array.BinarySearch(ids, e.B);

            // A verdict is derived again from edges to recorded vectors only, as before ghosts still to be recorded counted.
            if (orphans.Count > 0 && Array.BinarySearch(recorded, e.A) >= 0 && Array.BinarySearch(recorded, e.B) >= 0)
            {
                Consider(e.A, e.B, e.Cosine);
                Consider(e.B, e.A, e.Cosine);
            }

            for (var r = 0; r < parents.Length; r++)
            {
                if (e.Cosine >= scheme.Rungs[r])
                {
                    Union(parents[r], a, b);
                }
            }
        }

        for (var i = 0; i < ids.Length; i++)
        {
            if (shards[VectorId.HomeShard(ids[i])] is not { } home)
            {
                continue;
            }

            for (var r = 0; r < parents.Length; r++)
            {
                if (Find(parents[r], i) is var root && root != i)
                {
                    home.Link(ids[i], ids[root], r);
                }
            }
        }

        // The clusters rooted at the loaded shards: every stored vector joins its root's entry, in ascending id order.
        var live = MergeSorted(stored, []);
        for (var i = 0; i < ids.Length; i++)
        {
            if (Array.BinarySearch(live, ids[i]) < 0)
            {
                continue; // a ghost: in the forests, a member of no cluster
            }

            for (var r = 0; r < parents.Length; r++)
            {
                if (Find(parents[r], i) is var root && root != i && shards[VectorId.HomeShard(ids[root])] is { } rootHome)
                {
                    rootHome.LoadClusterMember(ids[root], r, ids[i], Array.BinarySearch(live, ids[root]) >= 0);
                }
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

            var index = Array.BinarySearch(ids, orphan.Id);
            var canonical = index < 0 ? orphan.Id : ids[Find(parents[rung], index)];
            orphan.ReplaceVerdictAtLoad(new StoredVerdict(true, canonical, best.Other, best.Cosine));
        }

        foreach (var shard in shards)
        {
            shard?.CountAfterLoad();
        }
    }

    // Two id lists as one ascending array without repeats (the store streams them in id order, so the sort is cheap).
    private static long[] MergeSorted(List<long> a, List<long> b)
    {
        var merged = new long[a.Count + b.Count];
        a.CopyTo(merged);
        b.CopyTo(merged, a.Count);
        Array.Sort(merged);
        var n = 0;
        foreach (var id in merged)
        {
            if (n == 0 || merged[n - 1] != id)
            {
                merged[n++] = id;
            }
        }

        return merged[..n];
    }

    private static int Find(int[] parent, int x)
    {
        while (parent[x] != x)
        {
            parent[x] = parent[parent[x]]; // path halving
            x = parent[x];
        }

        return x;
    }

    private static void Union(int[] parent, int a, int b)
    {
        var ra = Find(parent, a);
        var rb = Find(parent, b);
        if (ra != rb)
        {
            parent[Math.Max(ra, rb)] = Math.Min(ra, rb);
        }
    }
}
