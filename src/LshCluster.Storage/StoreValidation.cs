namespace LshCluster.Storage;

/// <summary>Argument checks shared by the stores, so that both refuse the same inputs with the same messages.</summary>
internal static class StoreValidation
{
    /// <summary>
    /// Checks a batch before any database work: fences name each shard once, and every vector's home shard is
    /// fenced, and so is every deleted vector's (a vector row belongs to its home shard, so writing it unfenced would defeat
    /// the fence).
    /// </summary>
    /// <exception cref="ArgumentException">The batch breaks one of these rules; the message says which.</exception>
    public static void CheckBatch(WriteBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(batch.Fences, nameof(batch.Fences));
        ArgumentNullException.ThrowIfNull(batch.Vectors, nameof(batch.Vectors));
        ArgumentNullException.ThrowIfNull(batch.Edges, nameof(batch.Edges));
        ArgumentNullException.ThrowIfNull(batch.Deletions, nameof(batch.Deletions));

        var fenced = new HashSet<int>(batch.Fences.Count);
        foreach (var fence in batch.Fences)
        {
            if (!fenced.Add(fence.Shard))
            {
                throw new ArgumentException($"the batch fences shard {fence.Shard} more than once", nameof(batch));
            }
        }

        foreach (var vector in batch.Vectors)
        {
            if (!fenced.Contains(vector.HomeShard))
            {
                throw new ArgumentException(
                    $"vector {vector.VectorId} ('{vector.ExternalId}') belongs to shard {vector.HomeShard}, which the batch does not fence", nameof(batch));
            }
        }

        foreach (var id in batch.Deletions)
        {
            if (!fenced.Contains(Core.Ids.VectorId.HomeShard(id)))
            {
                throw new ArgumentException(
                    $"deletion of vector {id} belongs to shard {Core.Ids.VectorId.HomeShard(id)}, which the batch does not fence", nameof(batch));
            }
        }
    }

    /// <summary>Checks the arguments of <see cref="IDedupStore.FixSchemeAsync"/>: a learning scheme replaced by a fixed one of the same routing part.</summary>
    /// <exception cref="ArgumentException">They are not; the message says why.</exception>
    public static void CheckFix(Core.Hashing.LshScheme learning, Core.Hashing.LshScheme fixedScheme, Func<float[], ulong[]> bucketKeysOf)
    {
        ArgumentNullException.ThrowIfNull(learning);
        ArgumentNullException.ThrowIfNull(fixedScheme);
        ArgumentNullException.ThrowIfNull(bucketKeysOf);
        if (!learning.IsLearning)
        {
            throw new ArgumentException("learning: the scheme to replace is not learning; a fixed scheme is never replaced", nameof(learning));
        }

        if (fixedScheme.IsLearning)
        {
            throw new ArgumentException("fixedScheme: must fix the hashing, not learn again", nameof(fixedScheme));
        }

        if (fixedScheme.Dimension != learning.Dimension || fixedScheme.ShardCount != learning.ShardCount || fixedScheme.Seed != learning.Seed
            || !fixedScheme.Rungs.SequenceEqual(learning.Rungs))
        {
            throw new ArgumentException(
                "fixedScheme: must keep the learning scheme's dimension, rungs, shards and seed (they decide where vectors live and their sketches)", nameof(fixedScheme));
        }
    }

    /// <summary>Checks the arguments of a claim.</summary>
    /// <exception cref="ArgumentException">The owner is empty or a shard is named twice.</exception>
    public static void CheckClaim(string owner, IReadOnlyList<int> shards)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        ArgumentNullException.ThrowIfNull(shards);
        var seen = new HashSet<int>(shards.Count);
        foreach (var shard in shards)
        {
            if (!seen.Add(shard))
            {
                throw new ArgumentException($"shard {shard} is named more than once", nameof(shards));
            }
        }
    }
}
