namespace LshCluster.Silo.Shards;

/// <summary>
/// The bucket members a shard owns, for every table: bucket key → the ids and 128-bit sketches of its members, as
/// singly linked lists threaded through flat arrays (no object per bucket or entry: at L = 20 tables a vector has
/// 20 entries, and most buckets hold one).
/// </summary>
internal sealed class BucketIndex
{
    private readonly Dictionary<ulong, int> _heads = [];
    private long[] _ids = new long[1024];
    private ulong[] _sketchLow = new ulong[1024];
    private ulong[] _sketchHigh = new ulong[1024];
    private int[] _next = new int[1024];
    private int _count;

    /// <summary>Entries stored.</summary>
    public int Count => _count;

    /// <summary>Distinct buckets.</summary>
    public int Buckets => _heads.Count;

    /// <summary>Adds <paramref name="id"/> to bucket <paramref name="key"/>.</summary>
    public void Add(ulong key, long id, ulong sketchLow, ulong sketchHigh)
    {
        if (_count == _ids.Length)
        {
            var size = _ids.Length * 2;
            Array.Resize(ref _ids, size);
            Array.Resize(ref _sketchLow, size);
            Array.Resize(ref _sketchHigh, size);
            Array.Resize(ref _next, size);
        }

        var slot = _count++;
        _ids[slot] = id;
        _sketchLow[slot] = sketchLow;
        _sketchHigh[slot] = sketchHigh;
        ref var head = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_heads, key, out var exists);
        _next[slot] = exists ? head : -1;
        head = slot;
    }

    /// <summary>
    /// Adds to <paramref name="found"/>, as candidates of batch item <paramref name="item"/>, the members of bucket
    /// <paramref name="key"/> whose sketch lies within <paramref name="maxHamming"/> bits of the given one, except
    /// <paramref name="self"/>. A vector is in a bucket at most once, so no member is reported twice.
    /// </summary>
    public void Collect(ulong key, ulong sketchLow, ulong sketchHigh, int maxHamming, long self, int item, List<Candidate> found)
    {
        if (!_heads.TryGetValue(key, out var slot))
        {
            return;
        }

        for (; slot >= 0; slot = _next[slot])
        {
            var distance = ulong.PopCount(_sketchLow[slot] ^ sketchLow) + ulong.PopCount(_sketchHigh[slot] ^ sketchHigh);
            if ((int)distance <= maxHamming && _ids[slot] != self)
            {
                found.Add(new Candidate(item, _ids[slot]));
            }
        }
    }
}
