using LshCluster.Core.Kernels;
using LshCluster.Storage;

namespace LshCluster.Grains.Shards;

/// <summary>
/// A vector at its home shard: the values (stored once in the cluster), the squared norm used by every cosine, the
/// screening projection, and the verdict — pending until the insert that registered it has committed.
/// </summary>
internal sealed class HomeRecord
{
    // UTC ticks, not a DateTimeOffset: 8 bytes less per stored vector.
    private readonly long _insertedAtTicks;
    private StoredVerdict _verdict;
    private volatile bool _acknowledged;
    private Task? _deletion;

    // Only while the verdict is pending: a record costs no completion source once acknowledged or loaded.
    private volatile TaskCompletionSource<StoredVerdict>? _pending;

    /// <summary>A record registered now, whose verdict is pending.</summary>
    public HomeRecord(long id, string externalId, float[] values, float squaredNorm, float[] projection, DateTimeOffset insertedAt)
        : this(id, externalId, values, squaredNorm, projection, insertedAt, default, acknowledged: false)
    {
    }

    /// <summary>A record loaded from the store, with its stored verdict.</summary>
    public HomeRecord(long id, string externalId, float[] values, float squaredNorm, float[] projection, DateTimeOffset insertedAt, StoredVerdict verdict)
        : this(id, externalId, values, squaredNorm, projection, insertedAt, verdict, acknowledged: true)
    {
    }

    private HomeRecord(long id, string externalId, float[] values, float squaredNorm, float[] projection, DateTimeOffset insertedAt, StoredVerdict verdict, bool acknowledged)
    {
        Id = id;
        ExternalId = externalId;
        Values = values;
        SquaredNorm = squaredNorm;
        Projection = projection;
        ProjectionSquaredNorm = VectorMath.SquaredNorm(projection);
        _insertedAtTicks = insertedAt.UtcTicks;
        _verdict = verdict;
        _acknowledged = acknowledged;
        _pending = acknowledged ? null : new TaskCompletionSource<StoredVerdict>(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public long Id { get; }

    public string ExternalId { get; }

    public float[] Values { get; }

    public float SquaredNorm { get; }

    /// <summary>A short random projection (see LshHasher.ComputeSketch) that screens candidates cheaply.</summary>
    public float[] Projection { get; }

    public float ProjectionSquaredNorm { get; }

    public DateTimeOffset InsertedAt => new(_insertedAtTicks, TimeSpan.Zero);

    /// <summary>True once the verdict is durable.</summary>
    public bool IsAcknowledged => _acknowledged;

    /// <summary>The durable verdict; meaningful only when <see cref="IsAcknowledged"/>.</summary>
    public StoredVerdict AcknowledgedVerdict => _verdict;

    /// <summary>Completes once the verdict is durable; a re-send of the same external id waits on it.</summary>
    public Task<StoredVerdict> Verdict
    {
        get
        {
            // Read the completion source before the flag: Acknowledge sets the flag before it drops the source.
            var pending = _pending;
            return _acknowledged ? Task.FromResult(_verdict) : pending!.Task;
        }
    }

    public void Acknowledge(StoredVerdict verdict)
    {
        _verdict = verdict;
        _acknowledged = true;
        var pending = _pending;
        _pending = null;
        pending?.TrySetResult(verdict);
    }

    public void Fail(Exception error) => _pending?.TrySetException(error);

    /// <summary>
    /// Set (in a turn of the home shard) while a delete of this vector is being committed; completes when the vector
    /// is gone. A deleting vector is no longer matched; another delete of it waits for this one. Volatile: the silo's
    /// verification reads it outside the shard's turns.
    /// </summary>
    public Task? Deletion
    {
        get => Volatile.Read(ref _deletion);
        set => Volatile.Write(ref _deletion, value);
    }

    /// <summary>At load only (one thread, before any turn): a verdict re-derived because the stored one names a missing vector.</summary>
    public void ReplaceVerdictAtLoad(StoredVerdict verdict) => _verdict = verdict;
}
