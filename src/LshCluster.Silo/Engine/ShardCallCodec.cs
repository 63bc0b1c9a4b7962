using LshCluster.Protocol.Internal;
using LshCluster.Silo.Shards;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The shard calls in their wire form (lshcluster_internal.proto) and back: the caller's side builds a call and reads
/// its reply, the callee's side turns a call into a turn of the shard. Kept together so that both sides agree.
/// </summary>
internal static class ShardCallCodec
{
    public static ShardCall BucketOps(int shard, List<BucketOperation> operations, int maxHamming)
    {
        var ops = new BucketOps { MaxHamming = maxHamming };
        var items = new int[operations.Count];
        var ids = new ulong[operations.Count];
        var keys = new ulong[operations.Count];
        var lows = new ulong[operations.Count];
        var highs = new ulong[operations.Count];
        var lookups = new bool[operations.Count];
        var inserts = new bool[operations.Count];
        for (var i = 0; i < operations.Count; i++)
        {
            var op = operations[i];
            (items[i], ids[i], keys[i], lows[i], highs[i], lookups[i], inserts[i]) = (op.Item, (ulong)op.VectorId, op.Key, op.SketchLow, op.SketchHigh, op.Lookup, op.Insert);
        }

        ops.Items.Add(items);
        ops.VectorIds.Add(ids);
        ops.Keys.Add(keys);
        ops.SketchLows.Add(lows);
        ops.SketchHighs.Add(highs);
        ops.Lookups.Add(lookups);
        ops.Inserts.Add(inserts);
        return new ShardCall { Shard = shard, BucketOps = ops };
    }

    public static Func<Shard, ShardReply> ServeBucketOps(BucketOps ops)
    {
        var count = ops.Items.Count;
        if (ops.VectorIds.Count != count || ops.Keys.Count != count || ops.SketchLows.Count != count || ops.SketchHighs.Count != count || ops.Lookups.Count != count || ops.Inserts.Count != count)
        {
            throw new InvalidOperationException("bucket operations: the columns differ in length");
        }

        var operations = new List<BucketOperation>(count);
        for (var i = 0; i < count; i++)
        {
            operations.Add(new BucketOperation(ops.Items[i], (long)ops.VectorIds[i], ops.Keys[i], ops.SketchLows[i], ops.SketchHighs[i], ops.Lookups[i], ops.Inserts[i]));
        }

        return s =>
        {
            var found = s.RunBucketOperations(operations, ops.MaxHamming);
            var candidates = new Candidates();
            foreach (var c in found)
            {
                candidates.Items.Add(c.Item);
                candidates.Ids.Add((ulong)c.CandidateId);
            }

            return new ShardReply { Candidates = candidates };
        };
    }

    public static List<Candidate> ReadCandidates(ShardReply reply)
    {
        var c = reply.Candidates;
        var list = new List<Candidate>(c.Items.Count);
        for (var i = 0; i < c.Items.Count; i++)
        {
            list.Add(new Candidate(c.Items[i], (long)c.Ids[i]));
        }

        return list;
    }

    /// <summary>Checks grouped by new vector, so that each vector's values travel once per shard.</summary>
    public static ShardCall Verify(int shard, List<Verification> checks, float lowestRung, float screen) =>
        new() { Shard = shard, Verify = VerifyOp(checks, lowestRung, screen) };

    /// <summary>Checks at every shard of one silo, each vector's values once.</summary>
    public static ShardCall VerifyMany(List<Verification> checks, float lowestRung, float screen) =>
        new() { Shard = -1, VerifyMany = VerifyOp(checks, lowestRung, screen) };

    private static VerifyOp VerifyOp(List<Verification> checks, float lowestRung, float screen)
    {
        var op = new VerifyOp { LowestRung = lowestRung, Screen = screen };
        foreach (var group in checks.GroupBy(c => (c.Item, c.VectorId)))
        {
            var first = group.First();
            var vector = new VerifyVector
            {
                Item = first.Item,
                VectorId = (ulong)first.VectorId,
                SquaredNorm = first.SquaredNorm,
                ProjectionSquaredNorm = first.ProjectionSquaredNorm,
            };
            vector.Values.Add(first.Values);
            vector.Projection.Add(first.Projection);
            vector.Candidates.AddRange(group.Select(c => (ulong)c.CandidateId));
            op.Vectors.Add(vector);
        }

        return op;
    }

    /// <summary>The checks of a verification op (each vector's arrays parsed once, shared by its candidates).</summary>
    public static List<Verification> ReadChecks(VerifyOp op)
    {
        var checks = new List<Verification>();
        foreach (var v in op.Vectors)
        {
            float[] values = [.. v.Values];
            float[] projection = [.. v.Projection];
            foreach (var candidate in v.Candidates)
            {
                checks.Add(new Verification(v.Item, (long)v.VectorId, values, v.SquaredNorm, projection, v.ProjectionSquaredNorm, (long)candidate));
            }
        }

        return checks;
    }

    public static Func<Shard, ShardReply> ServeVerify(VerifyOp op)
    {
        var checks = ReadChecks(op);
        return s => new ShardReply { Edges = EdgesOf(s.Verify(checks, op.LowestRung, op.Screen)) };
    }

    public static Edges EdgesOf(IEnumerable<FoundEdge> found)
    {
        var edges = new Edges();
        foreach (var e in found)
        {
            edges.Items.Add(e.Item);
            edges.VectorIds.Add((ulong)e.VectorId);
            edges.OtherIds.Add((ulong)e.OtherId);
            edges.Cosines.Add(e.Cosine);
        }

        return edges;
    }

    public static List<FoundEdge> ReadEdges(ShardReply reply) => ReadEdges(reply.Edges);

    public static List<FoundEdge> ReadEdges(Edges e)
    {
        var list = new List<FoundEdge>(e.Items.Count);
        for (var i = 0; i < e.Items.Count; i++)
        {
            list.Add(new FoundEdge(e.Items[i], (long)e.VectorIds[i], (long)e.OtherIds[i], e.Cosines[i]));
        }

        return list;
    }

    public static ShardCall Ascend(int shard, long id, int rung) => new() { Shard = shard, Ascend = new AscendOp { Id = (ulong)id, Rung = rung } };

    public static ShardCall Link(int shard, long child, long parent, int rung) =>
        new() { Shard = shard, Link = new LinkOp { Child = (ulong)child, Parent = (ulong)parent, Rung = rung } };

    public static ShardCall Lookup(int shard, IReadOnlyList<long> ids, bool withValues)
    {
        var op = new LookupOp { WithValues = withValues };
        op.Ids.AddRange(ids.Select(id => (ulong)id));
        return new ShardCall { Shard = shard, Lookup = op };
    }

    public static ShardCall LookupExternal(int shard, string externalId, bool withValues) =>
        new() { Shard = shard, LookupExternal = new LookupExternalOp { ExternalId = externalId, WithValues = withValues } };

    public static ShardReply RecordsReply(IEnumerable<RecordView?> views)
    {
        var records = new Records();
        foreach (var v in views)
        {
            if (v is null)
            {
                records.Records_.Add(new Record { Found = false });
                continue;
            }

            var record = new Record
            {
                Found = true,
                Id = (ulong)v.Id,
                ExternalId = v.ExternalId,
                SquaredNorm = v.SquaredNorm,
                Acknowledged = v.Acknowledged,
                IsDuplicate = v.Verdict.IsDuplicate,
                Canonical = (ulong)v.Verdict.Canonical,
                BestMatch = (ulong)v.Verdict.BestMatch,
                BestCosine = v.Verdict.BestCosine,
            };
            if (v.Values is { } values)
            {
                record.Values.Add(values);
            }

            records.Records_.Add(record);
        }

        return new ShardReply { Records = records };
    }

    public static RecordView?[] ReadRecords(ShardReply reply) =>
        [.. reply.Records.Records_.Select(r => r.Found
            ? new RecordView((long)r.Id, r.ExternalId, r.Values.Count > 0 ? [.. r.Values] : null, r.SquaredNorm, r.Acknowledged,
                new StoredVerdict(r.IsDuplicate, (long)r.Canonical, (long)r.BestMatch, r.BestCosine))
            : null)];

    public static ShardCall Parents(int shard, int rung) => new() { Shard = shard, Parents = new ParentsOp { Rung = rung } };

    public static ShardReply PairsReply(KeyValuePair<long, long>[] pairs)
    {
        var result = new Pairs();
        foreach (var (child, parent) in pairs)
        {
            result.Children.Add((ulong)child);
            result.Parents.Add((ulong)parent);
        }

        return new ShardReply { Parents = result };
    }

    public static KeyValuePair<long, long>[] ReadPairs(ShardReply reply)
    {
        var p = reply.Parents;
        var pairs = new KeyValuePair<long, long>[p.Children.Count];
        for (var i = 0; i < pairs.Length; i++)
        {
            pairs[i] = new KeyValuePair<long, long>((long)p.Children[i], (long)p.Parents[i]);
        }

        return pairs;
    }

    public static ShardReply NamesReply(IEnumerable<HomeRecord> records)
    {
        var names = new Records();
        foreach (var r in records)
        {
            names.Records_.Add(new Record { Found = true, Id = (ulong)r.Id, ExternalId = r.ExternalId });
        }

        return new ShardReply { Names = names };
    }
}
