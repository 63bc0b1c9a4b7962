using System.Numerics;
using LshCluster.Storage;

namespace LshCluster.Grains.Shards;

/// <summary>
/// The bucket members a shard owns, for every table: bucket key → the ids and 128-bit sketches of its members, as
/// singly linked lists threaded through pages of entries (no object per bucket or entry: at L = 100 tables a vector
/// has 100 entries, and most buckets hold one). The entries live in fixed pages that are never copied: arrays grown by
/// resizing copied each entry three times over and were the engine's largest garbage. The key → first-entry map is
/// open addressing with linear probing (12 bytes a slot, at most 3/4 full): a <c>Dictionary</c> cost about twice that
/// per bucket.
/// </summary>
internal sealed class BucketIndex
{
    // 256 entries of 32 bytes: 8 KB a page, well below the large object heap.
    private const int PageBits = 8;
    private const int PageSize = 1 << PageBits;

    private ulong[] _slotKeys = new ulong[1024];
    private int[] _slotHeads = NewHeads(1024);
    private int _buckets;
    private Entry[][] _pages = [];
    private int _count;

    /// <summary>Adds <paramref name="id"/> to bucket <paramref name="key"/>.</summary>
    public void Add(ulong key, long id, ulong sketchLow, ulong sketchHigh)
    {
        if ((_count & (PageSize - 1)) == 0 && (_count >> PageBits) == _pages.Length)
        {
            Array.Resize(ref _pages, Math.Max(4, _pages.Length * 2));
        }

        var slot = _count++;
        ref var page = ref _pages[slot >> PageBits];
        page ??= new Entry[PageSize];
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

        page[slot & (PageSize - 1)] = new Entry(id, sketchLow, sketchHigh, head);
        _slotHeads[at] = slot;
    }

    /// <summary>
    /// Adds to <paramref name="found"/>, as candidates of batch item <paramref name="item"/>, the members of bucket
    /// <paramref name="key"/> whose sketch lies within <paramref name="maxHamming"/> bits of the given one, except
    /// <paramref name="self"/>. A vector is in a bucket at most once, so no member is reported twice.
    /// </summary>
    public void Collect(ulong key, ulong sketchLow, ulong sketchHigh, int maxHamming, long self, int item, PooledList<Candidate> found)
    {
        for (var slot = _slotHeads[SlotOf(key)]; slot >= 0;)
        {
            ref readonly var entry = ref _pages[slot >> PageBits][slot & (PageSize - 1)];
            var distance = ulong.PopCount(entry.SketchLow ^ sketchLow) + ulong.PopCount(entry.SketchHigh ^ sketchHigh);
            if ((int)distance <= maxHamming && entry.Id != self)
            {
                found.Add(new Candidate(item, entry.Id));
            }

            slot = entry.Next;
        }
    }

    /// <summary>Every member of every bucket, bucket by bucket (what a snapshot of the shard's bucket log holds).</summary>
    public IEnumerable<BucketEntry> Entries()
    {
        for (var at = 0; at < _slotKeys.Length; at++)
        {
            for (var slot = _slotHeads[at]; slot >= 0;)
            {
                var entry = _pages[slot >> PageBits][slot & (PageSize - 1)];
                yield return new BucketEntry(_slotKeys[at], entry.Id, entry.SketchLow, entry.SketchHigh);
                slot = entry.Next;
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

    /// <summary>A member of a bucket, and the next member of the same bucket (-1 after the last).</summary>
    private readonly record struct Entry(long Id, ulong SketchLow, ulong SketchHigh, int Next);
}
