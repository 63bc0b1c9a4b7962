using LshCluster.Abstractions.Shards;
using LshCluster.Grains.Placement;
using Orleans.Concurrency;

namespace LshCluster.Grains.Shards;

/// <summary>
/// A silo's verification relay (<see cref="ISiloVerifierGrain"/>): holds nothing, so calls interleave freely; each
/// shard's part goes to its grain as a message over the same arrays, which a call within the silo does not copy.
/// </summary>
[Reentrant]
[SiloKeyPlacement]
internal sealed class SiloVerifierGrain : Grain, ISiloVerifierGrain
{
    /// <inheritdoc />
    public async Task<VerifyReply> VerifyAsync(SiloVerifyRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Checks.Length != request.Shards.Length)
        {
            throw new InvalidDataException($"verify: {request.Shards.Length} shards and {request.Checks.Length} lists of checks");
        }

        var headers = PackedStructs.Read<QueryHeader>(request.Queries.Span, "queries").ToArray();
        var replies = await Task.WhenAll(request.Shards.Select((shard, i) =>
            GrainFactory.GetGrain<IShardGrain>(shard).VerifyAsync(ForShard(request, headers, request.Checks[i])))).ConfigureAwait(true);
        var edges = new byte[replies.Sum(r => r.Edges.Length)];
        var at = 0;
        foreach (var reply in replies)
        {
            reply.Edges.CopyTo(edges, at);
            at += reply.Edges.Length;
        }

        return new VerifyReply(0, edges);
    }

    /// <summary>One shard's request: only the queries its checks name, renumbered.</summary>
    private static VerifyRequest ForShard(SiloVerifyRequest request, QueryHeader[] headers, ReadOnlyMemory<byte> packedChecks)
    {
        var checks = PackedStructs.Read<PackedCheck>(packedChecks.Span, "checks");
        var local = new Dictionary<int, int>();
        var renumbered = new PackedCheck[checks.Length];
        for (var i = 0; i < checks.Length; i++)
        {
            var q = checks[i].Query;
            if ((uint)q >= (uint)headers.Length)
            {
                throw new InvalidDataException($"verify: check {i} names query {q} of {headers.Length}");
            }

            if (!local.TryGetValue(q, out var mine))
            {
                local[q] = mine = local.Count;
            }

            renumbered[i] = new PackedCheck(mine, checks[i].CandidateId);
        }

        var mineHeaders = new QueryHeader[local.Count];
        var values = new ReadOnlyMemory<byte>[local.Count];
        var projections = new ReadOnlyMemory<byte>[local.Count];
        foreach (var (q, mine) in local)
        {
            mineHeaders[mine] = headers[q];
            values[mine] = request.Values[q];
            projections[mine] = request.Projections[q];
        }

        return new VerifyRequest(PackedStructs.Pack<QueryHeader>(mineHeaders), values, projections, PackedStructs.Pack<PackedCheck>(renumbered), request.LowestRung, request.Screen);
    }
}
