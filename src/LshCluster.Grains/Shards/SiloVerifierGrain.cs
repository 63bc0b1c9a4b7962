using LshCluster.Abstractions.Shards;
using LshCluster.Grains.Placement;
using Orleans.Concurrency;

namespace LshCluster.Grains.Shards;

/// <summary>
/// A silo's verification (<see cref="ISiloVerifierGrain"/>): holds nothing, so calls interleave freely. The checks of a
/// shard active on this silo are made here, reading its home records outside its turns (<see cref="Shard.FindMatchable"/>);
/// those of a shard that has moved away since the caller looked go to its grain, wherever it is.
/// </summary>
[Reentrant]
[SiloKeyPlacement]
internal sealed class SiloVerifierGrain(LocalShards local) : Grain, ISiloVerifierGrain
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
        if (request.Values.Length != headers.Length || request.Projections.Length != headers.Length)
        {
            throw new InvalidDataException($"verify: {headers.Length} queries, {request.Values.Length} vectors and {request.Projections.Length} projections");
        }

        var found = new List<FoundEdge>();
        var moved = new List<Task<VerifyReply>>();
        for (var i = 0; i < request.Shards.Length; i++)
        {
            if (local.Find(request.Shards[i]) is { } shard)
            {
                found.AddRange(shard.Verify(headers, request.Values, request.Projections,
                    PackedStructs.Read<PackedCheck>(request.Checks[i].Span, "checks"), request.LowestRung, request.Screen));
            }
            else
            {
                moved.Add(GrainFactory.GetGrain<IShardGrain>(request.Shards[i]).VerifyAsync(ForShard(request, headers, request.Checks[i])));
            }
        }

        foreach (var reply in await Task.WhenAll(moved).ConfigureAwait(true))
        {
            found.AddRange(PackedStructs.Read<FoundEdge>(reply.Edges, "edges"));
        }

        return new VerifyReply(0, PackedStructs.Pack<FoundEdge>(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(found)));
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
