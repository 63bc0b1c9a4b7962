namespace LshCluster.Core.Ids;

/// <summary>
/// Issues strictly increasing ids for one home shard. Not thread-safe: the shard's actor owns it. When more than
/// 64 ids are needed in one millisecond, or the clock steps back, the generator runs ahead of the clock rather than
/// repeat or reorder an id.
/// </summary>
public sealed class VectorIdGenerator
{
    private readonly int _shard;
    private readonly TimeProvider _time;
    private long _lastMilliseconds = -1;
    private int _sequence;

    /// <summary>Creates the generator of <paramref name="shard"/>.</summary>
    public VectorIdGenerator(int shard, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, 1 << VectorId.ShardBits);
        _shard = shard;
        _time = time;
    }

    /// <summary>Makes the next id larger than <paramref name="id"/> (used when reloading stored ids).</summary>
    public void Observe(long id)
    {
        var ms = VectorId.Milliseconds(id);
        var sequence = (int)(id & ((1 << VectorId.SequenceBits) - 1));
        if (ms > _lastMilliseconds || (ms == _lastMilliseconds && sequence >= _sequence))
        {
            _lastMilliseconds = ms;
            _sequence = sequence + 1;
        }
    }

    /// <summary>The next id.</summary>
    public long Next()
    {
        var now = (long)(_time.GetUtcNow() - VectorId.Epoch).TotalMilliseconds;
        if (now > _lastMilliseconds)
        {
            _lastMilliseconds = now;
            _sequence = 0;
        }

        if (_sequence == 1 << VectorId.SequenceBits)
        {
            _lastMilliseconds++;
            _sequence = 0;
        }

        return VectorId.Create(_lastMilliseconds, _shard, _sequence++);
    }
}
