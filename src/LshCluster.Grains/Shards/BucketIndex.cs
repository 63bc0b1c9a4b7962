using System.Numerics;
using LshCluster.Storage;

namespace LshCluster.Grains.Shards;

/// <summary>
/// The bucket members a shard owns, for every table: bucket key → the ids and 128-bit sketches of its members, as
/// singly linked lists threaded through flat arrays (no object per bucket or entry: at L = 20 tables a vector has
/// 20 entries, and most buckets hold one). The key → first-entry map is open addressing with linear probing (12 bytes
/// a slot, at most 3/4 full): a <c>Dictionary</c> cost about twice that per bucket, a fifth of all memory per vector.
/// </summary>
internal sealed class BucketIndex
{
    private ulong[] _slotKeys = new ulong[1024];
    private int[] _slotHeads = NewHeads(1024);
    private int _buckets;
    private long[] _ids = new long[1024];
    private ulong[] _sketchLow = new ulong[1024];
    private ulong[] _sketchHigh = new ulong[1024];
    private int[] _next = new int[1024];
    private int _count;

    /// <summary>Adds <paramref name="id"/> to bucket <paramref name="key"/>.</summary>
    public void Add(ulong key, long id, ulong sketchLow, ulong sketchHigh)
    {
        if (_count == _ids.Length)
        {
            // Grow by half, not double: with 1,024 shards the unused tail of these arrays is a large share of memory.
            var size = _ids.Length + (_ids.Length / 2);
            Array.Resize(ref _ids, size);
            Array.Resize(ref _sketchLow, size);
            Array.Resize(ref _sketchHigh, size);
            Array.Resize(ref _next, size);
        }

        var slot = _count++;
        _ids[slot] = id;
        _sketchLow[slot] = sketchLow;
        _sketchHigh[slot] = sketchHigh;
        if ((_buckets + 1) * 4 > _slotKeys.Length * 3)
        {
            Grow();
        }

        var at = SlotOf(key);
        var head = _slotHeads[at];
        if (head < 0)
        {
            _slotKeys[at] = key;
            _buckets++;
        }

        _next[slot] = head;
        _slotHeads[at] = slot;
    }

    /// <summary>
    /// Adds to <paramref name="found"/>, as candidates of batch item <paramref name="item"/>, the members of bucket
    /// <paramref name="key"/> whose sketch lies within <paramref name="maxHamming"/> bits of the given one, except
    /// <paramref name="self"/>. A vector is in a bucket at most once, so no member is reported twice.
    /// </summary>
    public void Collect(ulong key, ulong sketchLow, ulong sketchHigh, int maxHamming, long self, int item, PooledList<Candidate> found)
    {
        for (var slot = _slotHeads[SlotOf(key)]; slot >= 0; slot = _next[slot])
        {
            var distance = ulong.PopCount(_sketchLow[slot] ^ sketchLow) + ulong.PopCount(_sketchHigh[slot] ^ sketchHigh);
            if ((int)distance <= maxHamming && _ids[slot] != self)
            {
                found.Add(new Candidate(item, _ids[slot]));
            }
        }
    }

    /// <summary>Every member of every bucket, bucket by bucket (what a snapshot of the shard's bucket log holds).</summary>
    public IEnumerable<BucketEntry> Entries()
    {
        for (var at = 0; at < _slotKeys.Length; at++)
        {
            for (var slot = _slotHeads[at]; slot >= 0; slot = _next[slot])
            {
                yield return new BucketEntry(_slotKeys[at], _ids[slot], _sketchLow[slot], _sketchHigh[slot]);
            }
        }
    }

    /// <summary>The slot holding <paramref name="key"/>, or the empty slot where it belongs.</summary>
    private int SlotOf(ulong key)
    {
        var mask = _slotKeys.Length - 1;

        // Bucket keys keep the last rotation's hash in their low bits, so spread them with a multiplicative hash.
        var at = (int)((key * 0x9E3779B97F4A7C15UL) >> (64 - BitOperations.Log2((uint)_slotKeys.Length))) & mask;
        while (_slotHeads[at] >= 0 && _slotKeys[at] != key)
        {
            at = (at + 1) & mask;
        }

        return at;
    }

    private void Grow()
    {
        var oldKeys = _slotKeys;
        var oldHeads = _slotHeads;
        _slotKeys = new ulong[oldKeys.Length * 2];
        _slotHeads = NewHeads(oldKeys.Length * 2);
        for (var i = 0; i < oldKeys.Length; i++)
        {
            if (oldHeads[i] >= 0)
            {
                var at = SlotOf(oldKeys[i]);
                _slotKeys[at] = oldKeys[i];
                _slotHeads[at] = oldHeads[i];
            }
        }
    }

    private static int[] NewHeads(int length)
    {
        var heads = new int[length];
        Array.Fill(heads, -1);
        return heads;
    }
}
