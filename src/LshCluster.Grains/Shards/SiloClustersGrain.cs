using LshCluster.Abstractions.Shards;
using LshCluster.Grains.Placement;
using Orleans.Concurrency;

namespace LshCluster.Grains.Shards;

/// <summary>A silo's cluster board (<see cref="ISiloClustersGrain"/>): reads <see cref="LocalShards"/>, holds nothing.</summary>
[Reentrant]
[SiloKeyPlacement]
internal sealed class SiloClustersGrain(LocalShards local) : Grain, ISiloClustersGrain
{
    /// <inheritdoc />
    public async Task<byte[]> LargestAsync(int rung, int count, int minSize, int[] shards)
    {
        await local.ActivateAsync(GrainFactory, shards).ConfigureAwait(true);
        return PackedStructs.Pack<LargestCluster>(local.LargestClusters(rung, count, minSize));
    }

    /// <inheritdoc />
    public async Task<byte[]> NeighboursAsync(byte[] vector, float threshold, int[] shards)
    {
        await local.ActivateAsync(GrainFactory, shards).ConfigureAwait(true);
        var found = local.Neighbours(PackedStructs.Read<float>(vector, "vector").ToArray(), threshold);
        return PackedStructs.Pack<NearVector>([.. found.Select(f => new NearVector(f.Id, f.Cosine))]);
    }

    /// <inheritdoc />
    public async Task<SiloCountersReply> CountersAsync(int rungs, int[] shards)
    {
        await local.ActivateAsync(GrainFactory, shards).ConfigureAwait(true);
        var counters = local.Counters(rungs);
        return new SiloCountersReply(counters.Vectors, counters.Duplicates,
            [.. counters.Rungs.Select(r => new ClusterSummaryReply(r.Clusters, r.Clustered, r.Largest, r.Bins))]);
    }
}

/// <summary>A stored vector near a sample, as packed in a reply.</summary>
internal readonly record struct NearVector(long Id, float Cosine);
