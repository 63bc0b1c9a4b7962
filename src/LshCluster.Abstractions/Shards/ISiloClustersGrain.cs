namespace LshCluster.Abstractions.Shards;

/// <summary>
/// The cluster board of one silo (keyed by the silo's address, and active there): the largest clusters and the counters
/// of every shard active on that silo, in one call, where asking each shard would take a call per shard.
/// </summary>
public interface ISiloClustersGrain : IGrainWithStringKey
{
    /// <summary>
    /// The largest clusters at <paramref name="rung"/> (packed (root, canonical, size) structs), at least
    /// <paramref name="minSize"/> members each, once the <paramref name="shards"/> placed on this silo are active here.
    /// </summary>
    Task<byte[]> LargestAsync(int rung, int count, int minSize, int[] shards);

    /// <summary>
    /// Vectors, duplicates and, for rungs 0 … <paramref name="rungs"/> − 1, clusters (counters, no scan), once the
    /// <paramref name="shards"/> placed on this silo are active here.
    /// </summary>
    Task<SiloCountersReply> CountersAsync(int rungs, int[] shards);

    /// <summary>
    /// Every acknowledged vector of the shards active here at cosine ≥ <paramref name="threshold"/> to
    /// <paramref name="vector"/> (packed floats), by exact comparison: packed (id, cosine) pairs. A recall sample.
    /// </summary>
    Task<byte[]> NeighboursAsync(byte[] vector, float threshold, int[] shards);
}
