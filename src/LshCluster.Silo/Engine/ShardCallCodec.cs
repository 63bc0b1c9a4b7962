using Google.Protobuf;
using LshCluster.Grains.Shards;
using LshCluster.Protocol;
using LshCluster.Protocol.Internal;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The shard calls in their wire form (lshcluster_internal.proto) and back: the caller's side builds a call and reads
/// its reply, the callee's side turns a call into a turn of the shard. Kept together so that both sides agree.
/// </summary>
internal static class ShardCallCodec
{
    private const byte LookupFlag = 1;
    private const byte InsertFlag = 2;

    public static ShardCall BucketOps(int shard, ReadOnlySpan<BucketOperation> operations, int maxHamming)
    {
        var count = operations.Length;
        var items = PackedArrays.Writer<int>(count);
        var ids = PackedArrays.Writer<long>(count);
        var keys = PackedArrays.Writer<ulong>(count);
        var lows = PackedArrays.Writer<ulong>(count);
        var highs = PackedArrays.Writer<ulong>(count);
        var flags = PackedArrays.Writer<byte>(count);
        for (var i = 0; i < count; i++)
        {
            var op = operations[i];
            items.Span[i] = op.Item;
            ids.Span[i] = op.VectorId;
            keys.Span[i] = op.Key;
            lows.Span[i] = op.SketchLow;
            highs.Span[i] = op.SketchHigh;
            flags.Span[i] = (byte)((op.Lookup ? LookupFlag : 0) | (op.Insert ? InsertFlag : 0));
        }

        var ops = new BucketOps
        {
            MaxHamming = maxHamming,
            Items = items.ToByteString(),
            VectorIds = ids.ToByteString(),
            Keys = keys.ToByteString(),
            SketchLows = lows.ToByteString(),
            SketchHighs = highs.ToByteString(),
            Flags = flags.ToByteString(),
        };
        return new ShardCall { Shard = shard, BucketOps = ops };
    }

    public static Func<Shard, ShardReply> ServeBucketOps(BucketOps ops)
    {
        var items = PackedArrays.View<int>(ops.Items, "bucket_ops.items");
        var ids = PackedArrays.View<long>(ops.VectorIds, "bucket_ops.vector_ids");
        var keys = PackedArrays.View<ulong>(ops.Keys, "bucket_ops.keys");
        var lows = PackedArrays.View<ulong>(ops.SketchLows, "bucket_ops.sketch_lows");
        var highs = PackedArrays.View<ulong>(ops.SketchHighs, "bucket_ops.sketch_highs");
        var flags = ops.Flags.Span;
        var count = items.Length;
        if (ids.Length != count || keys.Length != count || lows.Length != count || highs.Length != count || flags.Length != count)
        {
            throw new InvalidDataException("bucket_ops: the columns differ in length");
        }

        var operations = new PooledList<BucketOperation>(count);
        operations.SetCount(count);
        var span = operations.Span;
        for (var i = 0; i < count; i++)
        {
            span[i] = new BucketOperation(items[i], ids[i], keys[i], lows[i], highs[i], (flags[i] & LookupFlag) != 0, (flags[i] & InsertFlag) != 0);
        }

        return s =>
        {
            var found = s.RunBucketOperations(operations.Span, ops.MaxHamming);
            operations.Return();
            var reply = new ShardReply { Candidates = CandidatesOf(found.Span) };
            found.Return();
            return reply;
        };
    }

    private static Candidates CandidatesOf(ReadOnlySpan<Candidate> found)
    {
        var items = PackedArrays.Writer<int>(found.Length);
        var ids = PackedArrays.Writer<long>(found.Length);
        for (var i = 0; i < found.Length; i++)
        {
            items.Span[i] = found[i].Item;
            ids.Span[i] = found[i].CandidateId;
        }

        return new Candidates { Items = items.ToByteString(), Ids = ids.ToByteString() };
    }

    /// <returns>The candidates, in a pooled list the caller returns.</returns>
    public static PooledList<Candidate> ReadCandidates(ShardReply reply)
    {
        var items = PackedArrays.View<int>(reply.Candidates.Items, "candidates.items");
        var ids = PackedArrays.View<long>(reply.Candidates.Ids, "candidates.ids");
        if (ids.Length != items.Length)
        {
            throw new InvalidDataException("candidates: the columns differ in length");
        }

        var list = new PooledList<Candidate>(items.Length);
        list.SetCount(items.Length);
        var span = list.Span;
        for (var i = 0; i < items.Length; i++)
        {
            span[i] = new Candidate(items[i], ids[i]);
        }

        return list;
    }

    /// <summary>Checks grouped by new vector, so that each vector's values travel once per shard.</summary>
    public static ShardCall Verify(int shard, ArraySegment<Verification> checks, float lowestRung, float screen) =>
        new() { Shard = shard, Verify = VerifyOp([checks], lowestRung, screen) };

    /// <summary>Checks at every shard of one silo, each vector's values once.</summary>
    public static ShardCall VerifyMany(List<ArraySegment<Verification>> parts, float lowestRung, float screen) =>
        new() { Shard = -1, VerifyMany = VerifyOp(parts, lowestRung, screen) };

    private static VerifyOp VerifyOp(List<ArraySegment<Verification>> parts, float lowestRung, float screen)
    {
        // Two passes: count each vector's candidates, then fill one packed array per vector.
        var slotOf = new Dictionary<VerifyQuery, int>(ReferenceEqualityComparer.Instance);
        var queries = new List<VerifyQuery>();
        var counts = new List<int>();
        foreach (var part in parts)
        {
            foreach (ref readonly var check in part.AsSpan())
            {
                if (slotOf.TryGetValue(check.Query, out var slot))
                {
                    counts[slot]++;
                }
                else
                {
                    slotOf[check.Query] = queries.Count;
                    queries.Add(check.Query);
                    counts.Add(1);
                }
            }
        }

        var candidates = counts.Select(PackedArrays.Writer<long>).ToArray();
        var filled = new int[candidates.Length];
        foreach (var part in parts)
        {
            foreach (ref readonly var check in part.AsSpan())
            {
                var slot = slotOf[check.Query];
                candidates[slot].Span[filled[slot]++] = check.CandidateId;
            }
        }

        var op = new VerifyOp { LowestRung = lowestRung, Screen = screen };
        for (var slot = 0; slot < queries.Count; slot++)
        {
            var q = queries[slot];
            op.Vectors.Add(new VerifyVector
            {
                Item = q.Item,
                VectorId = (ulong)q.VectorId,
                Values = UnsafeByteOperations.UnsafeWrap(q.Values),
                SquaredNorm = q.SquaredNorm,
                Projection = UnsafeByteOperations.UnsafeWrap(q.Projection),
                ProjectionSquaredNorm = q.ProjectionSquaredNorm,
                Candidates = candidates[slot].ToByteString(),
            });
        }

        return op;
    }

    /// <summary>The checks of a verification op (each vector's arrays read once, shared by its candidates).</summary>
    /// <returns>The checks, in a pooled list the caller returns.</returns>
    public static PooledList<Verification> ReadChecks(VerifyOp op)
    {
        var checks = new PooledList<Verification>(op.Vectors.Sum(v => PackedArrays.Count<long>(v.Candidates)));
        foreach (var v in op.Vectors)
        {
            // The received bytes as they are (checked once for whole floats), not copied into arrays.
            _ = PackedArrays.View<float>(v.Values, "verify.vectors.values");
            _ = PackedArrays.View<float>(v.Projection, "verify.vectors.projection");
            var query = new VerifyQuery(v.Item, (long)v.VectorId, v.Values.Memory, v.SquaredNorm, v.Projection.Memory, v.ProjectionSquaredNorm);
            foreach (var candidate in PackedArrays.View<long>(v.Candidates, "verify.vectors.candidates"))
            {
                checks.Add(new Verification(query, candidate));
            }
        }

        return checks;
    }

    public static Func<Shard, ShardReply> ServeVerify(VerifyOp op)
    {
        var checks = ReadChecks(op);
        return s =>
        {
            var edges = s.Verify(checks.Span, op.LowestRung, op.Screen);
            checks.Return();
            return new ShardReply { Edges = EdgesOf(edges) };
        };
    }

    public static Edges EdgesOf(List<FoundEdge> found)
    {
        var items = PackedArrays.Writer<int>(found.Count);
        var ids = PackedArrays.Writer<long>(found.Count);
        var others = PackedArrays.Writer<long>(found.Count);
        var cosines = PackedArrays.Writer<float>(found.Count);
        for (var i = 0; i < found.Count; i++)
        {
            var e = found[i];
            items.Span[i] = e.Item;
            ids.Span[i] = e.VectorId;
            others.Span[i] = e.OtherId;
            cosines.Span[i] = e.Cosine;
        }

        return new Edges { Items = items.ToByteString(), VectorIds = ids.ToByteString(), OtherIds = others.ToByteString(), Cosines = cosines.ToByteString() };
    }

    public static List<FoundEdge> ReadEdges(ShardReply reply) => ReadEdges(reply.Edges);

    public static List<FoundEdge> ReadEdges(Edges e)
    {
        var items = PackedArrays.View<int>(e.Items, "edges.items");
        var ids = PackedArrays.View<long>(e.VectorIds, "edges.vector_ids");
        var others = PackedArrays.View<long>(e.OtherIds, "edges.other_ids");
        var cosines = PackedArrays.View<float>(e.Cosines, "edges.cosines");
        if (ids.Length != items.Length || others.Length != items.Length || cosines.Length != items.Length)
        {
            throw new InvalidDataException("edges: the columns differ in length");
        }

        var list = new List<FoundEdge>(items.Length);
        for (var i = 0; i < items.Length; i++)
        {
            list.Add(new FoundEdge(items[i], ids[i], others[i], cosines[i]));
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
                record.Values = PackedArrays.From<float>(values);
            }

            records.Records_.Add(record);
        }

        return new ShardReply { Records = records };
    }

    public static RecordView?[] ReadRecords(ShardReply reply) =>
        [.. reply.Records.Records_.Select(r => r.Found
            ? new RecordView((long)r.Id, r.ExternalId, r.Values.Length > 0 ? PackedArrays.ToArray<float>(r.Values, "records.values") : null, r.SquaredNorm, r.Acknowledged,
                new StoredVerdict(r.IsDuplicate, (long)r.Canonical, (long)r.BestMatch, r.BestCosine))
            : null)];

    public static ShardCall Parents(int shard, int rung) => new() { Shard = shard, Parents = new ParentsOp { Rung = rung } };

    public static ShardReply ForestReply(Forest forest)
    {
        var result = new Pairs();
        foreach (var (child, parent) in forest.Parents)
        {
            result.Children.Add((ulong)child);
            result.Parents.Add((ulong)parent);
        }

        foreach (var id in forest.Deleted)
        {
            result.Deleted.Add((ulong)id);
        }

        return new ShardReply { Parents = result };
    }

    public static Forest ReadForest(ShardReply reply)
    {
        var p = reply.Parents;
        if (p.Parents.Count != p.Children.Count)
        {
            throw new InvalidDataException("pairs: the columns differ in length");
        }

        var pairs = new KeyValuePair<long, long>[p.Children.Count];
        for (var i = 0; i < pairs.Length; i++)
        {
            pairs[i] = new KeyValuePair<long, long>((long)p.Children[i], (long)p.Parents[i]);
        }

        return new Forest(pairs, [.. p.Deleted.Select(id => (long)id)]);
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
