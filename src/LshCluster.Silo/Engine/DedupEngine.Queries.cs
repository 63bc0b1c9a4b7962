using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Core.Kernels;
using LshCluster.Core.Vectors;
using LshCluster.Grains.Shards;

namespace LshCluster.Silo.Engine;

/// <summary>The read side of the engine: verdicts, clusters, near-duplicates of a vector, stats.</summary>
public sealed partial class DedupEngine
{
    /// <summary>The index of rung <paramref name="rung"/> (null: the highest), or an error naming the known rungs.</summary>
    /// <exception cref="ArgumentException">The cluster has no such rung.</exception>
    public int RungIndexOf(float? rung) => Scheme.RungIndex(rung);

    /// <summary>The stored verdict of <paramref name="externalId"/>, or null when it is not stored.</summary>
    public async Task<Verdict?> GetVerdictAsync(string externalId)
    {
        var record = await _shards.LookupExternalAsync(Scheme.HomeShard(externalId), externalId, withValues: false, Deadline()).ConfigureAwait(false);
        if (record is null || !record.Acknowledged)
        {
            return null;
        }

        return await DescribeAsync(record.ExternalId, record.Id, record.Verdict, repeated: false).ConfigureAwait(false);
    }

    /// <summary>
    /// The cluster of <paramref name="externalId"/> at rung index <paramref name="rung"/>: canonical member, size, and
    /// members <paramref name="skip"/> … <paramref name="skip"/> + <paramref name="take"/> in id order (first-registered
    /// first), each with its cosine to the canonical member. Null when the id is not stored.
    /// </summary>
    public async Task<ClusterView?> GetClusterOfAsync(string externalId, int rung, int skip = 0, int take = 100)
    {
        var deadline = Deadline();
        var record = await _shards.LookupExternalAsync(Scheme.HomeShard(externalId), externalId, withValues: false, deadline).ConfigureAwait(false);
        if (record is null)
        {
            return null;
        }

        var root = await FindAsync(record.Id, rung, deadline).ConfigureAwait(false);
        return await GetClusterAsync(root, rung, skip, take).ConfigureAwait(false);
    }

    /// <summary>
    /// The cluster whose id is <paramref name="clusterId"/> (the internal id of its first vector, the root of its tree,
    /// which may since have been deleted); null if no such cluster. Its canonical member is its earliest stored vector.
    /// </summary>
    public async Task<ClusterView?> GetClusterAsync(long clusterId, int rung, int skip = 0, int take = 100)
    {
        var deadline = Deadline();
        var home = VectorId.HomeShard(clusterId);
        if (home >= Scheme.ShardCount || clusterId < 0)
        {
            return null;
        }

        // Cheap checks first: a cluster id is a root, and a stored vector or a deleted one (a ghost) of its home shard.
        var self = (await _shards.LookupAsync(home, [clusterId], withValues: false, deadline).ConfigureAwait(false))[0];
        if (!(await _shards.AscendAsync(home, clusterId, rung, deadline).ConfigureAwait(false)).IsRoot
            || (self is null && !(await _shards.ParentsAsync(home, rung, deadline).ConfigureAwait(false)).Deleted.Contains(clusterId)))
        {
            return null;
        }

        var components = await ComponentsAsync(rung).ConfigureAwait(false);
        if (!components.TryGetValue(clusterId, out var members))
        {
            if (self is null)
            {
                return null; // a ghost none of whose members is stored any more
            }

            members = [clusterId]; // a vector alone in its cluster
        }

        var canonical = (await _shards.LookupAsync(VectorId.HomeShard(members[0]), [members[0]], withValues: true, deadline).ConfigureAwait(false))[0];
        if (canonical is null)
        {
            return null;
        }

        var views = await MembersAsync(canonical, [.. members.Skip(skip).Take(take)]).ConfigureAwait(false);
        return new ClusterView(_rungs[rung], clusterId, canonical.ExternalId, members.Count, views);
    }

    /// <summary>
    /// Clusters of size ≥ <paramref name="minSize"/> at rung index <paramref name="rung"/>, largest first (ties: older
    /// cluster first), paged; members are listed up to <paramref name="membersPerCluster"/>.
    /// </summary>
    public async Task<IReadOnlyList<ClusterView>> ListClustersAsync(int rung, int minSize = 2, int skip = 0, int take = 20, int membersPerCluster = 0)
    {
        var components = await ComponentsAsync(rung).ConfigureAwait(false);
        var chosen = components.Where(c => c.Value.Count >= Math.Max(2, minSize))
            .OrderByDescending(c => c.Value.Count).ThenBy(c => c.Key).Skip(skip).Take(take).ToList();
        var canonicals = await LookupManyAsync(chosen.Select(c => c.Value[0]), withValues: membersPerCluster > 0).ConfigureAwait(false);
        var views = new List<ClusterView>(chosen.Count);
        foreach (var (root, members) in chosen)
        {
            var canonical = canonicals.GetValueOrDefault(members[0]);
            var shown = canonical is null || membersPerCluster == 0
                ? []
                : await MembersAsync(canonical, [.. members.Take(membersPerCluster)]).ConfigureAwait(false);
            views.Add(new ClusterView(_rungs[rung], root, canonical?.ExternalId ?? string.Empty, members.Count, shown));
        }

        return views;
    }

    /// <summary>
    /// Every cluster of size ≥ 2 at rung index <paramref name="rung"/> as lists of external ids, canonical member first
    /// then in id order; with <paramref name="includeSingletons"/>, every other stored vector as a cluster of one.
    /// </summary>
    public async Task<IReadOnlyList<IReadOnlyList<string>>> ExportClustersAsync(int rung, bool includeSingletons = false)
    {
        var components = await ComponentsAsync(rung).ConfigureAwait(false);
        var names = await ExternalIdsAsync().ConfigureAwait(false);
        // An id without a record (an insert that failed after linking, before its commit) is left out.
        var clusters = components.OrderBy(c => c.Key)
            .Select(c => (IReadOnlyList<string>)[.. c.Value.Where(names.ContainsKey).Select(id => names[id])])
            .Where(c => c.Count >= 2)
            .ToList();
        if (includeSingletons)
        {
            var clustered = components.Values.Where(m => m.Count >= 2).SelectMany(m => m).ToHashSet();
            clusters.AddRange(names.Where(n => !clustered.Contains(n.Key)).OrderBy(n => n.Key).Select(n => (IReadOnlyList<string>)[n.Value]));
        }

        return clusters;
    }

    /// <summary>
    /// Stored vectors with cosine ≥ <paramref name="minCosine"/> (default: the lowest rung) to <paramref name="vector"/>,
    /// best first, found through the LSH buckets exactly as an insert would find them; nothing is stored.
    /// </summary>
    /// <exception cref="InvalidVectorException">The vector is invalid (the message names the reason).</exception>
    public async Task<IReadOnlyList<Neighbour>> FindNearDuplicatesAsync(float[] vector, float? minCosine = null, int limit = 100)
    {
        VectorValidator.EnsureValid(vector, Scheme.Dimension);
        var deadline = Deadline();
        using var pass = await EnterAsync(CancellationToken.None).ConfigureAwait(false);
        var (scheme, hasher) = await CurrentHashingAsync(CancellationToken.None).ConfigureAwait(false);
        var tables = scheme.Tables;
        var probes = scheme.Probes;
        var keys = new ulong[tables * probes];
        if (probes > 1)
        {
            hasher.ComputeProbes(vector, keys);
        }
        else
        {
            hasher.ComputeBucketKeys(vector, keys);
        }

        var projection = new float[hasher.ProjectionLength];
        var sketch = hasher.ComputeSketch(vector, projection);
        var threshold = minCosine ?? scheme.LowestRung;
        var maxHamming = Sketch128.MaxHamming(threshold);
        var operations = new Dictionary<int, List<BucketOperation>>();
        for (var k = 0; k < keys.Length; k++)
        {
            Add(operations, scheme.ShardOfBucket(k / probes, keys[k]), new BucketOperation(0, -1, keys[k], sketch.Low, sketch.High, Lookup: true, Insert: false));
        }

        var found = await _shards.LookUpBucketsAsync([.. operations.Select(pair => (pair.Key, pair.Value))], maxHamming, deadline).ConfigureAwait(false);
        var candidates = new List<long>();
        foreach (var list in found)
        {
            foreach (var c in list.Span)
            {
                candidates.Add(c.CandidateId);
            }

            list.Return();
        }

        var screen = ProjectionScreen(threshold, projection.Length);
        var query = new VerifyQuery(0, -1, vector, VectorMath.SquaredNorm(vector), projection, VectorMath.SquaredNorm(projection));
        var edges = await VerifyCandidatesAsync([query], [.. candidates], [0, candidates.Count], threshold, screen, admission: true, deadline).ConfigureAwait(false);
        var best = edges.OrderByDescending(e => e.Cosine).ThenBy(e => e.OtherId).Take(limit).ToList();
        var records = await LookupManyAsync(best.Select(e => e.OtherId), withValues: false).ConfigureAwait(false);
        var roots = await Task.WhenAll(best.Select(e => FindAsync(e.OtherId, RungIndex(e.Cosine), deadline))).ConfigureAwait(false);
        return [.. best.Select((e, i) => new Neighbour(records.GetValueOrDefault(e.OtherId)?.ExternalId ?? string.Empty, e.OtherId, e.Cosine, roots[i]))];
    }

    /// <summary>The stored values of <paramref name="externalId"/>, or null when it is not stored.</summary>
    public async Task<float[]?> GetValuesAsync(string externalId)
    {
        var record = await _shards.LookupExternalAsync(Scheme.HomeShard(externalId), externalId, withValues: true, Deadline()).ConfigureAwait(false);
        return record is { Acknowledged: true } ? record.Values : null;
    }

    /// <summary>Vectors stored and duplicate verdicts only: one small call per shard, cheap enough to sample often.</summary>
    public async Task<(long Vectors, long Duplicates)> GetCountsAsync()
    {
        var deadline = Deadline();
        var counts = await Task.WhenAll(AllShards().Select(s => _shards.CountsAsync(s, deadline))).ConfigureAwait(false);
        return (counts.Sum(c => (long)c.Vectors), counts.Sum(c => (long)c.Duplicates));
    }

    /// <summary>
    /// How many clusters (size ≥ 2) at rung index <paramref name="rung"/> have each size, in powers of two: bin i holds
    /// sizes 2^i + 1 … 2^(i+1) (2, 3–4, 5–8, …).
    /// </summary>
    public async Task<IReadOnlyList<SizeBin>> GetClusterSizeHistogramAsync(int rung)
    {
        var components = await ComponentsAsync(rung).ConfigureAwait(false);
        var bins = new SortedDictionary<int, int>();
        foreach (var size in components.Values.Select(c => c.Count).Where(size => size >= 2))
        {
            var bin = (int)Math.Ceiling(Math.Log2(size)) - 1;
            bins[bin] = bins.GetValueOrDefault(bin) + 1;
        }

        return [.. bins.Select(b => new SizeBin((1 << b.Key) + 1, 1 << (b.Key + 1), b.Value))];
    }

    /// <summary>Vectors, duplicate verdicts, and per rung the clusters of size ≥ 2.</summary>
    public async Task<EngineStats> GetStatsAsync()
    {
        var deadline = Deadline();
        var counts = await Task.WhenAll(AllShards().Select(s => _shards.CountsAsync(s, deadline))).ConfigureAwait(false);
        var rungs = new List<RungStats>();
        for (var r = 0; r < _rungs.Length; r++)
        {
            var clusters = (await ComponentsAsync(r).ConfigureAwait(false)).Values.Where(c => c.Count >= 2).ToList();
            rungs.Add(new RungStats(_rungs[r], clusters.Count, clusters.Sum(c => c.Count), clusters.Count == 0 ? 0 : clusters.Max(c => c.Count)));
        }

        return new EngineStats(counts.Sum(c => c.Vectors), counts.Sum(c => c.Duplicates), Scheme.ShardCount, rungs);
    }

    /// <summary>
    /// Every tree of more than one node at a rung, from a snapshot of all parent pointers: root → its stored members in
    /// id order (deleted vectors stay in the trees as ghosts but are no members, so a tree may list one member, or
    /// none and then it is left out). The root is the cluster id; the first member is the canonical one.
    /// </summary>
    private async Task<Dictionary<long, List<long>>> ComponentsAsync(int rung)
    {
        var deadline = Deadline();
        var forests = await Task.WhenAll(AllShards().Select(s => _shards.ParentsAsync(s, rung, deadline))).ConfigureAwait(false);
        var forest = new UnionFind();
        var deleted = new HashSet<long>();
        foreach (var shardForest in forests)
        {
            foreach (var (child, parent) in shardForest.Parents)
            {
                forest.Union(child, parent);
            }

            deleted.UnionWith(shardForest.Deleted);
        }

        var components = new Dictionary<long, List<long>>();
        foreach (var (child, root) in forest.NonRoots())
        {
            if (!components.TryGetValue(root, out var list))
            {
                components[root] = list = [root];
            }

            list.Add(child);
        }

        foreach (var members in components.Values)
        {
            members.RemoveAll(deleted.Contains);
            members.Sort();
        }

        return components.Where(c => c.Value.Count > 0).ToDictionary();
    }

    private async Task<List<ClusterMember>> MembersAsync(RecordView canonical, IReadOnlyList<long> ids)
    {
        var records = await LookupManyAsync(ids, withValues: true).ConfigureAwait(false);
        var members = new List<ClusterMember>(ids.Count);
        foreach (var id in ids)
        {
            if (records.GetValueOrDefault(id) is { Values: { } values } member && canonical.Values is { } canonicalValues)
            {
                members.Add(new ClusterMember(member.ExternalId, id, VectorMath.Cosine(VectorMath.Dot(values, canonicalValues), member.SquaredNorm, canonical.SquaredNorm)));
            }
        }

        return members;
    }

    /// <summary>The records of <paramref name="ids"/> that are stored (one lookup per home shard).</summary>
    private async Task<Dictionary<long, RecordView>> LookupManyAsync(IEnumerable<long> ids, bool withValues)
    {
        var deadline = Deadline();
        var groups = ids.Distinct().Where(id => id >= 0 && VectorId.HomeShard(id) < Scheme.ShardCount).GroupBy(VectorId.HomeShard).ToList();
        var found = await Task.WhenAll(groups.Select(g => _shards.LookupAsync(g.Key, [.. g], withValues, deadline))).ConfigureAwait(false);
        return found.SelectMany(x => x).OfType<RecordView>().ToDictionary(r => r.Id);
    }

    private async Task<Dictionary<long, string>> ExternalIdsAsync()
    {
        var deadline = Deadline();
        var all = await Task.WhenAll(AllShards().Select(s => _shards.NamesAsync(s, deadline))).ConfigureAwait(false);
        return all.SelectMany(x => x).ToDictionary(x => x.Id, x => x.ExternalId);
    }

    private async Task<RecordView?> RecordAsync(long id, bool admission = true)
    {
        var home = VectorId.HomeShard(id);
        if (home >= Scheme.ShardCount || id < 0)
        {
            return null;
        }

        return (await _shards.LookupAsync(home, [id], withValues: false, Deadline(), admission).ConfigureAwait(false))[0];
    }

    private IEnumerable<int> AllShards() => Enumerable.Range(0, Scheme.ShardCount);

    private DateTimeOffset Deadline() => _options.Time.GetUtcNow() + _options.RequestTimeout;
}
