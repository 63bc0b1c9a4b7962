using System.Runtime.InteropServices;
using LshCluster.Abstractions.Shards;
using LshCluster.Core.Ids;
using LshCluster.Core.Vectors;
using LshCluster.Grains.Placement;
using LshCluster.Grains.Shards;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The engine's shard calls as calls to shard grains (ADR 0006): each batch for a shard packed into one immutable
/// message whose vectors are views of the engine's own arrays, so that a call within a silo copies no vector and one
/// between silos writes each once. With <paramref name="owners"/> (a cluster of silos), a batch's verification goes
/// to each silo in one message through its <see cref="ISiloVerifierGrain"/>, each vector written once per silo.
/// What the engine only reads of a shard active in this silo (<paramref name="local"/>) — a step up a forest, records,
/// a query's bucket lookups, exact checks — is read in place, outside the shard's turns and without a call: those
/// structures have one writer, the turns, and readers that see them as they were at some moment (ADR 0006).
/// </summary>
internal sealed class GrainShardCalls(IGrainFactory grains, LocalShards local, int shardCount, Func<Task<SiloAddress[]>>? owners = null) : IShardCalls
{
    // Fewer checks in place than this run on the calling thread: threads would cost more than they save.
    private const int ParallelChecksFrom = 512;

    public int ShardCount => shardCount;

    private IShardGrain Shard(int shard) => grains.GetGrain<IShardGrain>(shard);

    public async Task<Registered> RegisterAsync(int shard, IReadOnlyList<HashedItem> items, DateTimeOffset deadline)
    {
        var request = new RegisterRequest([.. items.Select(x => x.ExternalId)], [.. items.Select(x => NumberBytes.Bytes(x.Values))],
            PackedStructs.Pack<float>([.. items.Select(x => x.SquaredNorm)]), [.. items.Select(x => NumberBytes.Bytes(x.Projection))]);
        var reply = await Shard(shard).RegisterAsync(request).ConfigureAwait(false);
        return new Registered(reply.Epoch, PackedStructs.Read<RegisteredItem>(reply.Items, "items").ToArray());
    }

    public async Task<(StoredVerdict Verdict, string? Failure)[]> WaitVerdictsAsync(int shard, long[] ids, CancellationToken cancellationToken)
    {
        var reply = await Shard(shard).WaitVerdictsAsync(PackedStructs.Pack<long>(ids)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var verdicts = PackedStructs.Read<StoredVerdict>(reply.Verdicts, "verdicts");
        var results = new (StoredVerdict, string?)[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            results[i] = (verdicts[i], reply.Failures[i]);
        }

        return results;
    }

    public Task AcknowledgeAsync(int shard, VerdictOf[] verdicts) => Shard(shard).AcknowledgeAsync(PackedStructs.Pack<VerdictOf>(verdicts));

    public Task ForgetAsync(int shard, long[] ids, Exception reason) => Shard(shard).ForgetAsync(PackedStructs.Pack<long>(ids), reason.Message);

    public async Task<(long Epoch, PooledList<Candidate> Found)> BucketOperationsAsync(int shard, ArraySegment<BucketOperation> operations, int maxHamming, bool admission, DateTimeOffset deadline)
    {
        var reply = await Shard(shard).RunBucketOperationsAsync(new BucketRequest(PackedStructs.View(operations), maxHamming)).ConfigureAwait(false);
        var found = PackedStructs.Read<Candidate>(reply.Candidates, "candidates");
        var list = new PooledList<Candidate>(found.Length);
        list.SetCount(found.Length);
        found.CopyTo(list.Span);
        return (reply.Epoch, list);
    }

    public Task<PooledList<Candidate>[]> LookUpBucketsAsync(IReadOnlyList<(int Shard, List<BucketOperation> Lookups)> byShard, int maxHamming, DateTimeOffset deadline)
    {
        // The shards of this process read in place, after each step of every bucket's walk (slot, run, entries) was
        // asked for across all of them: a query's lookups are one per table, each in another shard, so they cannot be
        // fetched ahead within a shard.
        var here = new Shard?[byShard.Count];
        for (var g = 0; g < byShard.Count; g++)
        {
            here[g] = local.Find(byShard[g].Shard);
        }

        for (var step = 0; step < 3; step++)
        {
            for (var g = 0; g < byShard.Count; g++)
            {
                here[g]?.Prefetch(CollectionsMarshal.AsSpan(byShard[g].Lookups), step);
            }
        }

        return Task.WhenAll(byShard.Select((group, g) => here[g] is { } shard
            ? Task.FromResult(shard.LookUp(CollectionsMarshal.AsSpan(group.Lookups), maxHamming))
            : CallAsync(group.Shard, group.Lookups)));

        async Task<PooledList<Candidate>> CallAsync(int shard, List<BucketOperation> lookups) =>
            (await BucketOperationsAsync(shard, new ArraySegment<BucketOperation>([.. lookups]), maxHamming, admission: true, deadline).ConfigureAwait(false)).Found;
    }

    public async Task<List<FoundEdge>> VerifyAllAsync(IEnumerable<(int Shard, ArraySegment<Verification> Checks)> byShard, float lowestRung, float screen, bool admission, DateTimeOffset deadline)
    {
        var here = new List<(Shard Home, ArraySegment<Verification> Checks)>();
        var elsewhere = new List<(int Shard, ArraySegment<Verification> Checks)>();
        var checksHere = 0;
        foreach (var (shard, run) in byShard)
        {
            if (local.Find(shard) is { } home)
            {
                here.Add((home, run));
                checksHere += run.Count;
            }
            else
            {
                elsewhere.Add((shard, run));
            }
        }

        var sent = elsewhere.Count > 0 ? VerifyElsewhereAsync(elsewhere, lowestRung, screen) : null;
        try
        {
            var edges = new List<FoundEdge>();
            if (checksHere < ParallelChecksFrom)
            {
                foreach (var (home, run) in here)
                {
                    home.Verify(run, lowestRung, screen, edges);
                }
            }
            else
            {
                Parallel.For(0, here.Count, new ParallelOptions { TaskScheduler = TaskScheduler.Default }, () => new List<FoundEdge>(),
                    (r, _, found) =>
                    {
                        here[r].Home.Verify(here[r].Checks, lowestRung, screen, found);
                        return found;
                    },
                    found =>
                    {
                        lock (edges)
                        {
                            edges.AddRange(found);
                        }
                    });
            }

            if (sent is not null)
            {
                edges.AddRange(await sent.ConfigureAwait(false));
            }

            return edges;
        }
        finally
        {
            // The messages are views of the caller's arrays: it may reuse them once this returns, so not before they are done.
            if (sent is { IsCompleted: false })
            {
                await sent.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            }
        }
    }

    private async Task<List<FoundEdge>> VerifyElsewhereAsync(List<(int Shard, ArraySegment<Verification> Checks)> byShard, float lowestRung, float screen)
    {
        VerifyReply[] replies;
        if (owners is null || await owners().ConfigureAwait(false) is not { Length: > 0 } placed)
        {
            replies = await Task.WhenAll(byShard.Select(run =>
            {
                var queries = new QueryTable(consecutive: true, run.Checks.Count);
                var checks = queries.Pack(run.Checks);
                return Shard(run.Shard).VerifyAsync(new VerifyRequest(queries.Headers(), queries.Values(), queries.Projections(), checks, lowestRung, screen));
            })).ConfigureAwait(false);
        }
        else
        {
            replies = await Task.WhenAll(byShard.GroupBy(run => placed[run.Shard % placed.Length]).Select(silo =>
            {
                var queries = new QueryTable(consecutive: false, silo.Sum(run => run.Checks.Count));
                var checks = silo.Select(run => queries.Pack(run.Checks)).ToArray();
                var request = new SiloVerifyRequest(queries.Headers(), queries.Values(), queries.Projections(), [.. silo.Select(run => run.Shard)], checks, lowestRung, screen);
                return grains.GetGrain<ISiloVerifierGrain>(silo.Key.ToParsableString()).VerifyAsync(request);
            })).ConfigureAwait(false);
        }

        var edges = new List<FoundEdge>();
        foreach (var reply in replies)
        {
            edges.AddRange(PackedStructs.Read<FoundEdge>(reply.Edges, "edges"));
        }

        return edges;
    }

    /// <summary>The new vectors of one message, each once however many of its checks name it.</summary>
    /// <param name="consecutive">
    /// The checks are one shard's: a query's checks come one after another (the batch's checks are grouped by shard
    /// stably, in item order), so comparing with the last query finds its repeats without a dictionary — a dictionary
    /// per shard message was a quarter of the engine's garbage. A silo's message gathers many shards' runs, where a query
    /// repeats apart from its last use.
    /// </param>
    /// <param name="checks">How many checks will be packed: no query table is larger.</param>
    private sealed class QueryTable(bool consecutive, int checks)
    {
        private readonly Dictionary<VerifyQuery, int>? _index = consecutive ? null : new(Math.Min(checks, 4096), ReferenceEqualityComparer.Instance);
        private readonly List<VerifyQuery> _queries = new(Math.Min(checks, consecutive ? 256 : 4096));
        private VerifyQuery? _last;
        private int _lastIndex;

        /// <summary>
        /// Checks as (query, candidate) pairs numbering their queries in this table, packed: a view of a new array, which
        /// a call within the silo passes as it is.
        /// </summary>
        public ReadOnlyMemory<byte> Pack(ArraySegment<Verification> checks)
        {
            var packed = new PackedCheck[checks.Count];
            for (var i = 0; i < checks.Count; i++)
            {
                var query = checks[i].Query;
                if (!ReferenceEquals(query, _last))
                {
                    _last = query;
                    if (_index is null || !_index.TryGetValue(query, out _lastIndex))
                    {
                        _lastIndex = _queries.Count;
                        _index?.Add(query, _lastIndex);
                        _queries.Add(query);
                    }
                }

                packed[i] = new PackedCheck(_lastIndex, checks[i].CandidateId);
            }

            return PackedStructs.View(new ArraySegment<PackedCheck>(packed));
        }

        public ReadOnlyMemory<byte> Headers()
        {
            var headers = new QueryHeader[_queries.Count];
            for (var q = 0; q < headers.Length; q++)
            {
                var query = _queries[q];
                headers[q] = new QueryHeader(query.Item, query.VectorId, query.SquaredNorm, query.ProjectionSquaredNorm);
            }

            return PackedStructs.View(new ArraySegment<QueryHeader>(headers));
        }

        public ReadOnlyMemory<byte>[] Values()
        {
            var values = new ReadOnlyMemory<byte>[_queries.Count];
            for (var q = 0; q < values.Length; q++)
            {
                values[q] = _queries[q].ValueBytes;
            }

            return values;
        }

        public ReadOnlyMemory<byte>[] Projections()
        {
            var projections = new ReadOnlyMemory<byte>[_queries.Count];
            for (var q = 0; q < projections.Length; q++)
            {
                projections[q] = _queries[q].ProjectionBytes;
            }

            return projections;
        }
    }

    public ValueTask<(long Node, bool IsRoot)> AscendAsync(int shard, long id, int rung, DateTimeOffset deadline)
    {
        if (local.Find(shard) is { } here)
        {
            return ValueTask.FromResult(here.Ascend(id, rung));
        }

        return CallAsync();

        async ValueTask<(long Node, bool IsRoot)> CallAsync()
        {
            var reply = await Shard(shard).AscendAsync(id, rung).ConfigureAwait(false);
            return (reply.Node, reply.IsRoot);
        }
    }

    public async Task<(long Epoch, MemberTransfer? Moved)> LinkAsync(int shard, long child, long parent, int rung, DateTimeOffset deadline)
    {
        var reply = await Shard(shard).LinkAsync(child, parent, rung).ConfigureAwait(false);
        return (reply.Epoch, reply.Linked
            ? new MemberTransfer(PackedStructs.Read<long>(reply.Members, "members").ToArray(), PackedStructs.Read<long>(reply.Tombstones, "tombstones").ToArray())
            : null);
    }

    public async Task<(long Epoch, int[] Moved)> AbsorbAsync(int shard, int rung, IReadOnlyList<(long Root, MemberTransfer Members)> transfers)
    {
        var members = IdListsCodec.Pack([.. transfers.Select(t => (t.Root, (IReadOnlyList<long>)t.Members.Members))]);
        var tombstones = IdListsCodec.Pack([.. transfers.Select(t => (t.Root, (IReadOnlyList<long>)t.Members.Tombstones))]);
        var reply = await Shard(shard).AbsorbAsync(rung, members, tombstones).ConfigureAwait(false);
        return (reply.Epoch, PackedStructs.Read<int>(reply.Moved, "moved").ToArray());
    }

    public async Task<int[]> RemoveMembersAsync(int shard, int rung, IReadOnlyList<(long Root, long Member)> removals)
    {
        var pairs = PackedStructs.Pack<KeyValuePair<long, long>>([.. removals.Select(r => KeyValuePair.Create(r.Root, r.Member))]);
        var reply = await Shard(shard).RemoveMembersAsync(rung, pairs).ConfigureAwait(false);
        return PackedStructs.Read<int>(reply.Moved, "moved").ToArray();
    }

    // The cluster questions below read a shard active here in place (its cluster index takes a lock; its counters are
    // single fields): a dashboard's question to every shard then costs microseconds, not a call per shard.

    public async Task<ClusterPage?> ClusterPageAsync(long root, int rung, long after, int skip, int take, int sample = 0)
    {
        var home = VectorId.HomeShard(root);
        if (local.Find(home) is { } here)
        {
            return here.Page(root, rung, after, skip, take, sample);
        }

        var reply = await Shard(home).ClusterAsync(root, rung, after, skip, take, sample).ConfigureAwait(false);
        return reply.IsRoot
            ? new ClusterPage(reply.Size, reply.Canonical, PackedStructs.Read<long>(reply.Members, "members").ToArray(), PackedStructs.Read<long>(reply.Sample, "sample").ToArray())
            : null;
    }

    public async Task<List<LargestCluster>> LargestClustersAsync(int rung, int count, int minSize)
    {
        if (await SilosAsync().ConfigureAwait(false) is not { } silos)
        {
            await local.ActivateAsync(grains, Enumerable.Range(0, shardCount)).ConfigureAwait(false);
            return [.. local.LargestClusters(rung, count, minSize)];
        }

        var lists = await Task.WhenAll(silos.Select(async silo => PackedStructs.Read<LargestCluster>(
            await grains.GetGrain<ISiloClustersGrain>(silo.Key).LargestAsync(rung, count, minSize, silo.Value).ConfigureAwait(false), "clusters").ToArray())).ConfigureAwait(false);

        // A shard that moves is briefly on two silos: its clusters count once.
        return [.. lists.SelectMany(l => l).DistinctBy(c => c.Root).OrderByDescending(c => c.Size).ThenBy(c => c.Root).Take(count)];
    }

    public async Task<List<(long Id, float Cosine)>> NeighboursAsync(float[] vector, float threshold)
    {
        if (await SilosAsync().ConfigureAwait(false) is not { } silos)
        {
            await local.ActivateAsync(grains, Enumerable.Range(0, shardCount)).ConfigureAwait(false);
            return local.Neighbours(vector, threshold);
        }

        var replies = await Task.WhenAll(silos.Select(silo => grains.GetGrain<ISiloClustersGrain>(silo.Key).NeighboursAsync(PackedStructs.Pack<float>(vector), threshold, silo.Value))).ConfigureAwait(false);
        return [.. replies.SelectMany(r => PackedStructs.Read<NearVector>(r, "neighbours").ToArray()).DistinctBy(n => n.Id).Select(n => (n.Id, n.Cosine))];
    }

    public async Task<ClusterCounters> CountersAsync(int rungs)
    {
        if (await SilosAsync().ConfigureAwait(false) is not { } silos)
        {
            await local.ActivateAsync(grains, Enumerable.Range(0, shardCount)).ConfigureAwait(false);
            return local.Counters(rungs);
        }

        var replies = await Task.WhenAll(silos.Select(silo => grains.GetGrain<ISiloClustersGrain>(silo.Key).CountersAsync(rungs, silo.Value))).ConfigureAwait(false);
        return new ClusterCounters(replies.Sum(r => r.Vectors), replies.Sum(r => r.Duplicates), [.. Enumerable.Range(0, rungs).Select(r => new ClusterSummary(
            replies.Sum(x => x.Rungs[r].Clusters), replies.Sum(x => x.Rungs[r].Clustered), replies.Max(x => x.Rungs[r].Largest),
            [.. Enumerable.Range(0, 32).Select(b => replies.Sum(x => x.Rungs[r].Bins[b]))]))]);
    }

    // The silos the placement names (by their grain keys) with the shards placed on each, or null in a process that
    // hosts every shard (the embedded engine).
    private async Task<Dictionary<string, int[]>?> SilosAsync() =>
        owners is null || await owners().ConfigureAwait(false) is not { Length: > 0 } placed
            ? null
            : placed.Select((silo, shard) => (silo, shard)).GroupBy(x => x.silo).ToDictionary(g => g.Key.ToParsableString(), g => g.Select(x => x.shard).ToArray());

    public async Task<float[]> CosinesAsync(int shard, float[] to, float toSquaredNorm, long[] ids) =>
        local.Find(shard) is { } here
            ? here.Cosines(to, toSquaredNorm, ids)
            : PackedStructs.Read<float>(await Shard(shard).CosinesAsync(PackedStructs.Pack<float>(to), PackedStructs.Pack<long>(ids)).ConfigureAwait(false), "cosines").ToArray();

    public async Task<(long Root, long[] Members)[]> ClustersAsync(int shard, int rung)
    {
        var lists = await Shard(shard).ClustersAsync(rung).ConfigureAwait(false);
        var clusters = new (long, long[])[IdListsCodec.Count(lists)];
        for (var k = 0; k < clusters.Length; k++)
        {
            clusters[k] = (IdListsCodec.Root(lists, k), IdListsCodec.Ids(lists, k).ToArray());
        }

        return clusters;
    }

    public Task<RecordView?[]> LookupAsync(int shard, IReadOnlyList<long> ids, bool withValues, DateTimeOffset deadline, bool admission = true)
    {
        if (local.Find(shard) is { } here)
        {
            var views = new RecordView?[ids.Count];
            for (var i = 0; i < views.Length; i++)
            {
                views[i] = ViewOf(here.Find(ids[i]), withValues);
            }

            return Task.FromResult(views);
        }

        return CallAsync();

        async Task<RecordView?[]> CallAsync() => [.. (await Shard(shard).LookupAsync(PackedStructs.Pack<long>([.. ids]), withValues).ConfigureAwait(false)).Select(ViewOf)];
    }

    public async Task<RecordView?> LookupExternalAsync(int shard, string externalId, bool withValues, DateTimeOffset deadline) =>
        local.Find(shard) is { } here
            ? ViewOf(here.FindConcurrently(externalId), withValues)
            : ViewOf(await Shard(shard).LookupExternalAsync(externalId, withValues).ConfigureAwait(false));

    public async Task<(long Id, string ExternalId)[]> NamesAsync(int shard, DateTimeOffset deadline)
    {
        var reply = await Shard(shard).NamesAsync().ConfigureAwait(false);
        var ids = PackedStructs.Read<long>(reply.Ids, "ids");
        var names = new (long, string)[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            names[i] = (ids[i], reply.ExternalIds[i]);
        }

        return names;
    }

    public async Task<(long Epoch, DeleteOutcome[] Outcomes)> BeginDeleteAsync(int shard, IReadOnlyList<string> externalIds)
    {
        var reply = await Shard(shard).BeginDeleteAsync([.. externalIds]).ConfigureAwait(false);
        return (reply.Epoch, PackedStructs.Read<DeleteOutcome>(reply.Outcomes, "outcomes").ToArray());
    }

    public Task EndDeleteAsync(int shard, long[] ids, bool committed) => Shard(shard).EndDeleteAsync(PackedStructs.Pack<long>(ids), committed);

    public Task WaitSettledAsync(int shard, long[] ids, CancellationToken cancellationToken) =>
        Shard(shard).WaitSettledAsync(PackedStructs.Pack<long>(ids)).WaitAsync(cancellationToken);

    public Task ReloadAsync(int shard) => Shard(shard).ReloadAsync();

    /// <summary>
    /// A record of a shard active here as a lookup by call would give it: its own copy of the values, the verdict only
    /// once acknowledged (the flag is read first: it is set after the verdict is written).
    /// </summary>
    private static RecordView? ViewOf(HomeRecord? r, bool withValues)
    {
        if (r is null)
        {
            return null;
        }

        var acknowledged = r.IsAcknowledged;
        return new RecordView(r.Id, r.ExternalId, withValues ? [.. r.Values] : null, r.SquaredNorm, acknowledged, acknowledged ? r.AcknowledgedVerdict : default);
    }

    private static RecordView? ViewOf(ShardRecord? r) => r is null
        ? null
        : new RecordView(r.Id, r.ExternalId, r.Values is null ? null : PackedStructs.Read<float>(r.Values, "values").ToArray(), r.SquaredNorm, r.Acknowledged,
            PackedStructs.Read<StoredVerdict>(r.Verdict, "verdict")[0]);
}
