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
    /// members <paramref name="skip"/> … <paramref name="skip"/> + <paramref name="take"/> after member id
    /// <paramref name="after"/> in id order (first-registered first), each with its cosine to the canonical member. Null
    /// when the id is not stored. Costs the path to the root and the members returned, whatever the cluster's size.
    /// </summary>
    public async Task<ClusterView?> GetClusterOfAsync(string externalId, int rung, int skip = 0, int take = 100, long after = 0)
    {
        var deadline = Deadline();
        var record = await _shards.LookupExternalAsync(Scheme.HomeShard(externalId), externalId, withValues: false, deadline).ConfigureAwait(false);
        if (record is null)
        {
            return null;
        }

        for (var attempt = 0; ; attempt++)
        {
            var root = await FindAsync(record.Id, rung, deadline).ConfigureAwait(false);
            if (await _shards.ClusterPageAsync(root, rung, after, skip, take).ConfigureAwait(false) is { } page)
            {
                return page.Size == 0 ? null : await ViewAsync(root, rung, page).ConfigureAwait(false);
            }

            // Linked under another root between the find and the read: find again (roots only ever get older).
            if (attempt == 100)
            {
                throw new TimeoutException($"the cluster of '{externalId}' kept merging with others while it was read; ask again");
            }
        }
    }

    /// <summary>
    /// The cluster whose id is <paramref name="clusterId"/> (the internal id of its first vector, the root of its tree,
    /// which may since have been deleted); null if no such cluster. Its canonical member is its earliest stored vector.
    /// </summary>
    public async Task<ClusterView?> GetClusterAsync(long clusterId, int rung, int skip = 0, int take = 100, long after = 0)
    {
        if (clusterId < 0 || VectorId.HomeShard(clusterId) >= Scheme.ShardCount
            || await PageAsync(clusterId, rung, after, skip, take).ConfigureAwait(false) is not { } page)
        {
            return null;
        }

        return await ViewAsync(clusterId, rung, page).ConfigureAwait(false);
    }

    /// <summary>
    /// Clusters of size ≥ <paramref name="minSize"/> at rung index <paramref name="rung"/>, largest first (ties: older
    /// cluster first), paged; members are listed up to <paramref name="membersPerCluster"/>. Reads each shard's list of
    /// its largest clusters, kept as they change.
    /// </summary>
    public async Task<IReadOnlyList<ClusterView>> ListClustersAsync(int rung, int minSize = 2, int skip = 0, int take = 20, int membersPerCluster = 0)
    {
        var chosen = (await _shards.LargestClustersAsync(rung, skip + take, Math.Max(2, minSize)).ConfigureAwait(false)).Skip(skip).ToList();
        var canonicals = await LookupManyAsync(chosen.Select(c => c.Canonical), withValues: membersPerCluster > 0).ConfigureAwait(false);
        var views = new List<ClusterView>(chosen.Count);
        foreach (var c in chosen)
        {
            var canonical = canonicals.GetValueOrDefault(c.Canonical);
            var shown = canonical is null || membersPerCluster == 0
                ? []
                : await MembersAsync(canonical, (await _shards.ClusterPageAsync(c.Root, rung, 0, 0, membersPerCluster).ConfigureAwait(false))?.Members ?? []).ConfigureAwait(false);
            views.Add(new ClusterView(_rungs[rung], c.Root, canonical?.ExternalId ?? string.Empty, c.Size, shown));
        }

        return views;
    }

    /// <summary>
    /// Every cluster of size ≥ 2 at rung index <paramref name="rung"/> as lists of external ids, canonical member first
    /// then in id order; with <paramref name="includeSingletons"/>, every other stored vector as a cluster of one.
    /// </summary>
    public async Task<IReadOnlyList<IReadOnlyList<string>>> ExportClustersAsync(int rung, bool includeSingletons = false)
    {
        var rooted = await Task.WhenAll(AllShards().Select(s => _shards.ClustersAsync(s, rung))).ConfigureAwait(false);
        var names = await ExternalIdsAsync().ConfigureAwait(false);
        // An id without a record (an insert that failed after linking, before its commit) is left out.
        var clusters = rooted.SelectMany(x => x).OrderBy(c => c.Root)
            .Select(c => (IReadOnlyList<string>)[.. c.Members.Where(names.ContainsKey).Select(id => names[id])])
            .Where(c => c.Count >= 2)
            .ToList();
        if (includeSingletons)
        {
            var clustered = rooted.SelectMany(x => x).SelectMany(c => c.Members).ToHashSet();
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

    /// <summary>Vectors stored and duplicate verdicts only: counters, cheap enough to sample often.</summary>
    public async Task<(long Vectors, long Duplicates)> GetCountsAsync()
    {
        var counters = await _shards.CountersAsync(0).ConfigureAwait(false);
        return (counters.Vectors, counters.Duplicates);
    }

    /// <summary>
    /// How many clusters (size ≥ 2) at rung index <paramref name="rung"/> have each size, in powers of two: bin i holds
    /// sizes 2^i + 1 … 2^(i+1) (2, 3–4, 5–8, …). Counters kept by each shard; no scan.
    /// </summary>
    public async Task<IReadOnlyList<SizeBin>> GetClusterSizeHistogramAsync(int rung)
    {
        var bins = (await _shards.CountersAsync(_rungs.Length).ConfigureAwait(false)).Rungs[rung].Bins;
        return [.. bins.Select((count, b) => (count, b)).Where(x => x.count > 0).Select(x => new SizeBin((1 << x.b) + 1, (int)Math.Min(int.MaxValue, 1L << (x.b + 1)), x.count))];
    }

    /// <summary>Vectors, duplicate verdicts, and per rung the clusters of size ≥ 2: counters kept by each shard; no scan.</summary>
    public async Task<EngineStats> GetStatsAsync()
    {
        var counters = await _shards.CountersAsync(_rungs.Length).ConfigureAwait(false);
        var rungs = counters.Rungs.Select((c, r) => new RungStats(_rungs[r], c.Clusters, (int)c.Clustered, c.Largest)).ToList();
        return new EngineStats((int)counters.Vectors, (int)counters.Duplicates, Scheme.ShardCount, rungs);
    }

    /// <summary>A page of the cluster rooted at <paramref name="root"/>; null when it is no root or holds no stored vector.</summary>
    private async Task<ClusterPage?> PageAsync(long root, int rung, long after, int skip, int take) =>
        await _shards.ClusterPageAsync(root, rung, after, skip, take).ConfigureAwait(false) is { Size: > 0 } page ? page : null;

    private async Task<ClusterView?> ViewAsync(long root, int rung, ClusterPage page)
    {
        var canonical = (await _shards.LookupAsync(VectorId.HomeShard(page.Canonical), [page.Canonical], withValues: true, Deadline()).ConfigureAwait(false))[0];
        if (canonical is null)
        {
            return null;
        }

        return new ClusterView(_rungs[rung], root, canonical.ExternalId, page.Size, await MembersAsync(canonical, page.Members).ConfigureAwait(false));
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
