using LshCluster.Storage;

namespace LshCluster.Silo.Shards;

/// <summary>
/// A vector at its home shard: the values (stored once in the cluster), the squared norm used by every cosine, and
/// the verdict — pending until the insert that registered it has committed.
/// </summary>
internal sealed class HomeRecord(long id, string externalId, float[] values, float squaredNorm, float[] projection, DateTimeOffset insertedAt)
{
    private readonly TaskCompletionSource<StoredVerdict> _verdict = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Id { get; } = id;

    public string ExternalId { get; } = externalId;

    public float[] Values { get; } = values;

    public float SquaredNorm { get; } = squaredNorm;

    /// <summary>A short random projection (see LshHasher.ComputeSketch) that screens candidates cheaply.</summary>
    public float[] Projection { get; } = projection;

    public float ProjectionSquaredNorm { get; } = Core.Kernels.VectorMath.SquaredNorm(projection);

    public DateTimeOffset InsertedAt { get; } = insertedAt;

    /// <summary>Completes once the verdict is durable; a re-send of the same external id waits on it.</summary>
    public Task<StoredVerdict> Verdict => _verdict.Task;

    public void Acknowledge(StoredVerdict verdict) => _verdict.TrySetResult(verdict);

    public void Fail(Exception error) => _verdict.TrySetException(error);
}
