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
    /// How many members, spread over a cluster, its coherence is measured over when it has more (the view says how many):
    /// enough to find a chained cluster's far members, cheap enough for every read.
    /// </summary>
    public const int CoherenceSample = 1000;

    /// <summary>
    /// The cluster of <paramref name="externalId"/> at rung index <paramref name="rung"/>: canonical member, size,
    /// coherence, and members <paramref name="skip"/> … <paramref name="skip"/> + <paramref name="take"/> after member id
    /// <paramref name="after"/> in id order (first-registered first), each with its cosine to the canonical member. With
    /// <paramref name="core"/>, the members listed are those of the core (within the rung of the canonical member). Null
    /// when the id is not stored. Costs the path to the root and the members returned (and the sample the coherence is
    /// measured over), whatever the cluster's size; a core costs a cosine per member.
    /// </summary>
    public async Task<ClusterView?> GetClusterOfAsync(string externalId, int rung, int skip = 0, int take = 100, long after = 0, bool core = false)
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
            if (await ReadClusterAsync(root, rung, skip, take, after, core, CoherenceSample).ConfigureAwait(false) is { IsRoot: true } read)
            {
                return read.View;
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
    /// Paging and <paramref name="core"/> as in <see cref="GetClusterOfAsync"/>.
    /// </summary>
    public async Task<ClusterView?> GetClusterAsync(long clusterId, int rung, int skip = 0, int take = 100, long after = 0, bool core = false)
    {
        if (clusterId < 0 || VectorId.HomeShard(clusterId) >= Scheme.ShardCount)
        {
            return null;
        }

        return (await ReadClusterAsync(clusterId, rung, skip, take, after, core, CoherenceSample).ConfigureAwait(false)).View;
    }

    /// <summary>
    /// Clusters of size ≥ <paramref name="minSize"/> at rung index <paramref name="rung"/>, largest first (ties: older
    /// cluster first), paged, each with its coherence measured over up to <paramref name="coherenceSample"/> members;
    /// members are listed up to <paramref name="membersPerCluster"/>. Reads each silo's board of its largest clusters.
    /// </summary>
    public async Task<IReadOnlyList<ClusterView>> ListClustersAsync(int rung, int minSize = 2, int skip = 0, int take = 20, int membersPerCluster = 0, int coherenceSample = 200)
    {
        var chosen = (await _shards.LargestClustersAsync(rung, skip + take, Math.Max(2, minSize)).ConfigureAwait(false)).Skip(skip).ToList();
        var views = await Task.WhenAll(chosen.Select(c => ReadClusterAsync(c.Root, rung, 0, membersPerCluster, 0, core: false, coherenceSample))).ConfigureAwait(false);
        return [.. views.Select(v => v.View).OfType<ClusterView>()];
    }

    /// <summary>
    /// Every cluster of size ≥ 2 at rung index <paramref name="rung"/> as lists of external ids, canonical member first
    /// then in id order; with <paramref name="includeSingletons"/>, every other stored vector as a cluster of one. With
    /// <paramref name="cores"/>, each cluster's core instead (its members within the rung of its canonical member): a
    /// chained cluster's far members are then not written as duplicates of a vector they do not resemble (with
    /// <paramref name="includeSingletons"/>, each is written alone).
    /// </summary>
    public async Task<IReadOnlyList<IReadOnlyList<string>>> ExportClustersAsync(int rung, bool includeSingletons = false, bool cores = false)
    {
        var rooted = (await Task.WhenAll(AllShards().Select(s => _shards.ClustersAsync(s, rung))).ConfigureAwait(false)).SelectMany(x => x).OrderBy(c => c.Root).ToList();
        var names = await ExternalIdsAsync().ConfigureAwait(false);
        if (cores)
        {
            var canonicals = await LookupManyAsync(rooted.Select(c => c.Members[0]), withValues: true).ConfigureAwait(false);
            for (var k = 0; k < rooted.Count; k++)
            {
                var (root, members) = rooted[k];
                if (canonicals.GetValueOrDefault(members[0]) is { } canonical)
                {
                    var cosines = await CosinesToAsync(canonical, members).ConfigureAwait(false);
                    rooted[k] = (root, [.. members.Where(id => id == canonical.Id || cosines.GetValueOrDefault(id, -1) >= _rungs[rung])]);
                }
            }
        }

        // An id without a record (an insert that failed after linking, before its commit) is left out.
        var clusters = rooted
            .Select(c => (IReadOnlyList<string>)[.. c.Members.Where(names.ContainsKey).Select(id => names[id])])
            .Where(c => c.Count >= 2)
            .ToList();
        if (includeSingletons)
        {
            var clustered = rooted.Where(c => c.Members.Length >= 2).SelectMany(c => c.Members).ToHashSet();
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
        var rungs = counters.Rungs.Select((c, r) => new RungStats(_rungs[r], c.Clusters, (int)c.Clustered, c.Largest) { SampledRecall = _recall.Estimate(r) }).ToList();
        return new EngineStats((int)counters.Vectors, (int)counters.Duplicates, Scheme.ShardCount, rungs);
    }

    /// <summary>
    /// Reads the cluster rooted at <paramref name="root"/>: IsRoot false when it is not (any more) a root; View null when
    /// it holds no stored vector. The coherence is measured over all members when a core is asked for, else over up to
    /// <paramref name="coherenceSample"/> spread over the cluster.
    /// </summary>
    private async Task<(bool IsRoot, ClusterView? View)> ReadClusterAsync(long root, int rung, int skip, int take, long after, bool core, int coherenceSample)
    {
        // A core lists its members by their cosines, so it reads them all; otherwise the page and a sample.
        var read = core
            ? await _shards.ClusterPageAsync(root, rung, 0, 0, int.MaxValue, int.MaxValue).ConfigureAwait(false)
            : await _shards.ClusterPageAsync(root, rung, after, skip, take, coherenceSample).ConfigureAwait(false);
        if (read is null)
        {
            return (false, null);
        }

        var canonical = read.Size == 0 ? null : (await _shards.LookupAsync(VectorId.HomeShard(read.Canonical), [read.Canonical], withValues: true, Deadline()).ConfigureAwait(false))[0];
        if (canonical is null)
        {
            return (true, null);
        }

        var cosines = await CosinesToAsync(canonical, [.. read.Sample, .. read.Members]).ConfigureAwait(false);
        cosines[canonical.Id] = 1;
        var coherence = read.Sample.Select(id => cosines.GetValueOrDefault(id, 1)).DefaultIfEmpty(1).Min();
        var listed = read.Members;
        int? coreSize = null;
        if (core)
        {
            long[] members = [.. read.Sample.Where(id => cosines.GetValueOrDefault(id, -1) >= _rungs[rung])];
            coreSize = members.Length;
            var from = Array.BinarySearch(members, after) is var at && at >= 0 ? at + 1 : ~at;
            listed = [.. members.Skip(from + Math.Max(0, skip)).Take(Math.Max(0, take))];
        }

        var names = await LookupManyAsync(listed, withValues: false).ConfigureAwait(false);
        List<ClusterMember> shown = [.. listed.Where(names.ContainsKey).Select(id => new ClusterMember(names[id].ExternalId, id, cosines.GetValueOrDefault(id, float.NaN)))];
        return (true, new ClusterView(_rungs[rung], root, canonical.ExternalId, read.Size, shown)
        {
            Coherence = coherence,
            CoherenceSample = read.Sample.Length,
            CoreSize = coreSize,
        });
    }

    /// <summary>The exact cosine of each stored one of <paramref name="ids"/> to <paramref name="canonical"/>'s values, computed at their home shards.</summary>
    private async Task<Dictionary<long, float>> CosinesToAsync(RecordView canonical, IEnumerable<long> ids)
    {
        var values = canonical.Values ?? throw new InvalidOperationException("cosines to a record read without its values");
        var byHome = await Task.WhenAll(ids.Distinct().Where(id => id >= 0 && VectorId.HomeShard(id) < Scheme.ShardCount).GroupBy(VectorId.HomeShard).Select(async home =>
        {
            long[] mine = [.. home];
            return (Ids: mine, Cosines: await _shards.CosinesAsync(home.Key, values, canonical.SquaredNorm, mine).ConfigureAwait(false));
        })).ConfigureAwait(false);
        var cosines = new Dictionary<long, float>();
        foreach (var (mine, found) in byHome)
        {
            for (var i = 0; i < mine.Length; i++)
            {
                if (!float.IsNaN(found[i]))
                {
                    cosines[mine[i]] = found[i];
                }
            }
        }

        return cosines;
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
