using System.Numerics;
using LshCluster.Storage;

namespace LshCluster.Grains.Shards;

/// <summary>
/// The bucket members a shard owns, for every table: bucket key → the ids and 128-bit sketches of its members, as
/// singly linked lists threaded through pages of entries (no object per bucket or entry: at L = 100 tables a vector
/// has 100 entries, and most buckets hold one). The entries live in fixed pages that are never copied: arrays grown by
/// resizing copied each entry three times over and were the engine's largest garbage. The key → first-entry map is
/// open addressing with linear probing (12 bytes a slot, at most 3/4 full): a <c>Dictionary</c> cost about twice that
/// per bucket. One writer (the shard's turns) and any number of readers outside them (<see cref="Collect"/>): an
/// entry is written before the head that reaches it is published, and the map and the page list are replaced whole when
/// they grow, so a reader sees the index as it was at some moment.
/// </summary>
internal sealed class BucketIndex
{
    // 256 entries of 32 bytes: 8 KB a page, well below the large object heap.
    private const int PageBits = 8;
    private const int PageSize = 1 << PageBits;

    private SlotMap _map = new(1024);
    private int _buckets;
    private Entry[][] _pages = [];
    private int _count;

    /// <summary>Adds <paramref name="id"/> to bucket <paramref name="key"/>.</summary>
    public void Add(ulong key, long id, ulong sketchLow, ulong sketchHigh)
    {
        var slot = _count;
        if ((slot & (PageSize - 1)) == 0)
        {
            var pages = _pages;
            if ((slot >> PageBits) == pages.Length)
            {
                Array.Resize(ref pages, Math.Max(4, pages.Length * 2));
            }

            pages[slot >> PageBits] = new Entry[PageSize];
            Volatile.Write(ref _pages, pages);
        }

        if ((_buckets + 1) * 4 > _map.Keys.Length * 3)
        {
            Volatile.Write(ref _map, _map.Doubled());
        }

        var map = _map;
        var at = map.SlotOf(key);
        var head = map.Heads[at];
        if (head < 0)
        {
            map.Keys[at] = key;
            _buckets++;
        }

        _pages[slot >> PageBits][slot & (PageSize - 1)] = new Entry(id, sketchLow, sketchHigh, head);
        _count++;
        Volatile.Write(ref map.Heads[at], slot); // published after the entry and the key it needs
    }

    /// <summary>
    /// Adds to <paramref name="found"/>, as candidates of batch item <paramref name="item"/>, the members of bucket
    /// <paramref name="key"/> whose sketch lies within <paramref name="maxHamming"/> bits of the given one, except
    /// <paramref name="self"/>. A vector is in a bucket at most once, so no member is reported twice.
    /// </summary>
    public void Collect(ulong key, ulong sketchLow, ulong sketchHigh, int maxHamming, long self, int item, PooledList<Candidate> found)
    {
        var map = Volatile.Read(ref _map);
        var slot = Volatile.Read(ref map.Heads[map.SlotOf(key)]);
        var pages = Volatile.Read(ref _pages); // read after the head: holds every page the head's list reaches
        while (slot >= 0)
        {
            ref readonly var entry = ref pages[slot >> PageBits][slot & (PageSize - 1)];
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
        var map = _map;
        for (var at = 0; at < map.Keys.Length; at++)
        {
            for (var slot = map.Heads[at]; slot >= 0;)
            {
                var entry = _pages[slot >> PageBits][slot & (PageSize - 1)];
                yield return new BucketEntry(map.Keys[at], entry.Id, entry.SketchLow, entry.SketchHigh);
                slot = entry.Next;
            }
        }
    }

    /// <summary>Bucket key → the slot of its newest entry: open addressing with linear probing, replaced whole when it grows.</summary>
    private sealed class SlotMap(int length)
    {
        public ulong[] Keys { get; } = new ulong[length];

        public int[] Heads { get; } = NewHeads(length);

        /// <summary>The slot holding <paramref name="key"/>, or the empty slot where it belongs.</summary>
        public int SlotOf(ulong key)
        {
            var mask = Keys.Length - 1;

            // Bucket keys keep the last rotation's hash in their low bits, so spread them with a multiplicative hash.
            var at = (int)((key * 0x9E3779B97F4A7C15UL) >> (64 - BitOperations.Log2((uint)Keys.Length))) & mask;
            while (Volatile.Read(ref Heads[at]) >= 0 && Keys[at] != key)
            {
                at = (at + 1) & mask;
            }

            return at;
        }

        /// <summary>A map twice the size holding the same buckets (built whole before anyone reads it).</summary>
        public SlotMap Doubled()
        {
            var larger = new SlotMap(Keys.Length * 2);
            for (var i = 0; i < Keys.Length; i++)
            {
                if (Heads[i] >= 0)
                {
                    var at = larger.SlotOf(Keys[i]);
                    larger.Keys[at] = Keys[i];
                    larger.Heads[at] = Heads[i];
                }
            }

            return larger;
        }

        private static int[] NewHeads(int length)
        {
            var heads = new int[length];
            Array.Fill(heads, -1);
            return heads;
        }
    }

    /// <summary>A member of a bucket, and the next member of the same bucket (-1 after the last).</summary>
    private readonly record struct Entry(long Id, ulong SketchLow, ulong SketchHigh, int Next);
}
