using System.Numerics;
using System.Runtime.InteropServices;
using LshCluster.Storage;

namespace LshCluster.Grains.Shards;

/// <summary>
/// The bucket members a shard owns, for every table: bucket key → the 4-byte handles of its members in the silo's
/// <see cref="VectorDirectory"/>, which holds each vector's id and sketch once. A bucket of one member (most of them,
/// with many tables) keeps its handle in its map slot; a larger one keeps its members together in a run, so that a
/// lookup reads one run and then the members' directory entries, independent loads the processor overlaps (a list
/// threaded through pages made each member wait for the one before: a cache miss per member, in a line). Runs are
/// power-of-two blocks of an arena of fixed pages (past a page, an array of their own), doubled by copying when full; a
/// block given up is reused once no reader can still see it.
/// The key → member map is open addressing with linear probing (12 bytes a slot, at most 3/4 full).
/// One writer (the shard's turns) and any number of readers outside them (<see cref="Reading"/>): a member is written
/// before the count or slot that reaches it is published, and the map and the page lists are replaced whole when they
/// grow, so a reader sees each bucket as it was at some moment.
/// </summary>
internal sealed class BucketIndex(VectorDirectory directory)
{
    // Arena pages of 1,024 ints (4 KB: a silo has a thousand shards, each with its own arena, so a page is what an
    // almost empty shard costs). A run is a block of 2^c ints, 2 ≤ c ≤ 10: its count (low 24 bits) and class c (high
    // 8 bits), then up to 2^c - 1 members. A bucket outgrowing a page gets an array of its own (class LargeClass).
    private const int PageBits = 10;
    private const int PageSize = 1 << PageBits;
    private const int SmallestClass = 2;
    private const int LargeClass = 31;
    private const int CountMask = (1 << 24) - 1;

    // A slot's value: Empty, a member's handle (≥ 0), or a run: Run(offset in the arena, a multiple of 4) or
    // Run(large index × 4 + 1).
    private const int Empty = -1;

    private readonly List<int>[] _free = [.. Enumerable.Range(0, PageBits + 1).Select(_ => new List<int>())];
    private readonly List<(int Offset, int Class)> _retired = [];
    private SlotMap _map = new(64); // small: a silo has a thousand shards, and many hold few buckets
    private int _buckets;
    private int[][] _arena = [];
    private int _top;
    private int[][] _large = [];
    private int _largeCount;

    // Readers outside the writer's turns now (Reading): a retired block is reused only when none is.
    private int _readers;

    /// <summary>The directory whose handles the buckets hold.</summary>
    public VectorDirectory Directory => directory;

    /// <summary>Adds vector <paramref name="id"/> (its sketch given) to bucket <paramref name="key"/>.</summary>
    public void Add(ulong key, long id, ulong sketchLow, ulong sketchHigh) => Add(key, directory.HandleOf(id, sketchLow, sketchHigh));

    /// <summary>Adds the vector of directory handle <paramref name="handle"/> to bucket <paramref name="key"/>.</summary>
    public void Add(ulong key, int handle)
    {
        if ((_buckets + 1) * 4 > _map.Slots.Length * 3)
        {
            Volatile.Write(ref _map, _map.Doubled());
        }

        var map = _map;
        var at = map.SlotOf(key);
        var value = map.Slots[at].Value;
        if (value == Empty)
        {
            map.Slots[at].Key = key;
            _buckets++;
            Volatile.Write(ref map.Slots[at].Value, handle); // published after the key a reader compares
            return;
        }

        if (value >= 0)
        {
            // A second member: both move to a run of three.
            var offset = Allocate(SmallestClass);
            var block = _arena[offset >> PageBits].AsSpan(offset & (PageSize - 1));
            block[1] = value;
            block[2] = handle;
            Volatile.Write(ref block[0], 2 | (SmallestClass << 24));
            Volatile.Write(ref map.Slots[at].Value, Run(offset));
            return;
        }

        var reference = Reference(value);
        if ((reference & 1) != 0)
        {
            AddToLarge(reference >> 2, handle);
            return;
        }

        var page = _arena[reference >> PageBits];
        var start = reference & (PageSize - 1);
        var header = page[start];
        var count = header & CountMask;
        var size = header >>> 24;
        if (count + 1 < (1 << size))
        {
            page[start + 1 + count] = handle;
            Volatile.Write(ref page[start], (count + 1) | (size << 24)); // after the member it counts
            return;
        }

        // Full: the members move to a block twice the size (or an array of their own past a page), and this one waits
        // until no reader can be reading it.
        var members = page.AsSpan(start + 1, count);
        int moved;
        if (size == PageBits)
        {
            var large = new int[2 * PageSize];
            members.CopyTo(large.AsSpan(1));
            large[1 + count] = handle;
            large[0] = (count + 1) | (LargeClass << 24);
            moved = Run((NewLargeIndex(large) << 2) | 1);
        }
        else
        {
            var offset = Allocate(size + 1);
            var block = _arena[offset >> PageBits].AsSpan(offset & (PageSize - 1));
            members.CopyTo(block[1..]);
            block[1 + count] = handle;
            Volatile.Write(ref block[0], (count + 1) | ((size + 1) << 24));
            moved = Run(offset);
        }

        Volatile.Write(ref map.Slots[at].Value, moved);
        Retire(reference, size);
    }

    /// <summary>
    /// Adds to <paramref name="found"/>, as candidates of batch item <paramref name="item"/>, the members of bucket
    /// <paramref name="key"/> whose sketch lies within <paramref name="maxHamming"/> bits of the given one, except
    /// <paramref name="self"/>. A vector is in a bucket at most once, so no member is reported twice. For the writer,
    /// in its turns, or for a reader outside them within <see cref="Reading"/>.
    /// </summary>
    public void Collect(ulong key, ulong sketchLow, ulong sketchHigh, int maxHamming, long self, int item, PooledList<Candidate> found)
    {
        var map = Volatile.Read(ref _map);
        var value = Volatile.Read(ref map.Slots[map.SlotOf(key)].Value);
        if (value == Empty)
        {
            return;
        }

        var entries = directory.Pages; // read after the slot: holds every handle the bucket reaches
        if (value >= 0)
        {
            Consider(VectorDirectory.At(entries, value), sketchLow, sketchHigh, maxHamming, self, item, found);
            return;
        }

        foreach (var handle in Members(Reference(value)))
        {
            Consider(VectorDirectory.At(entries, handle), sketchLow, sketchHigh, maxHamming, self, item, found);
        }
    }

    /// <summary>
    /// Asks the processor to fetch the map slot where bucket <paramref name="key"/> starts, so that a
    /// <see cref="Collect"/> or <see cref="Add(ulong, int)"/> of it a little later does not wait for memory: a shard's map is
    /// megabytes, and each lookup's slot is a cache (and often a TLB) miss. Only a hint: safe anywhere, at any time.
    /// </summary>
    public void Prefetch(ulong key) => Volatile.Read(ref _map).Prefetch(key);

    /// <summary>
    /// The next steps after <see cref="Prefetch"/>, once the slot has arrived: <paramref name="entries"/> false asks for
    /// the bucket's run (or its one member's directory entry), true for its members' directory entries (the first 16),
    /// so that a walk of many buckets in many shards waits for memory a few times, not three times per bucket. For the
    /// writer, in its turns, or for a reader within <see cref="Reading"/> (a run it reads is not reused meanwhile).
    /// </summary>
    public unsafe void PrefetchMembers(ulong key, bool entries)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            return;
        }

        var map = Volatile.Read(ref _map);
        var value = Volatile.Read(ref map.Slots[map.SlotOf(key)].Value);
        if (value == Empty)
        {
            return;
        }

        var pages = directory.Pages;
        if (value >= 0)
        {
            VectorDirectory.Prefetch(pages, value);
            return;
        }

        var reference = Reference(value);
        if (!entries)
        {
            ref var header = ref (reference & 1) != 0
                ? ref Volatile.Read(ref _large)[reference >> 2][0]
                : ref Volatile.Read(ref _arena)[reference >> PageBits][reference & (PageSize - 1)];
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(System.Runtime.CompilerServices.Unsafe.AsPointer(ref header));
            return;
        }

        var members = Members(reference);
        foreach (var handle in members[..Math.Min(members.Length, 16)])
        {
            VectorDirectory.Prefetch(pages, handle);
        }
    }

    /// <summary>
    /// Counts a reader outside the writer's turns (a query reading the shard in place) in, until the scope is disposed:
    /// meanwhile no block the writer gives up is reused, so its <see cref="Collect"/> calls read whole buckets.
    /// </summary>
    public ReaderScope Reading()
    {
        Interlocked.Increment(ref _readers); // before any slot is read (a full fence): see Retire
        return new ReaderScope(this);
    }

    /// <summary>Every member of every bucket, bucket by bucket (what a snapshot of the shard's bucket log holds).</summary>
    public IEnumerable<BucketEntry> Entries()
    {
        var map = _map;
        for (var at = 0; at < map.Slots.Length; at++)
        {
            var value = map.Slots[at].Value;
            if (value == Empty)
            {
                continue;
            }

            int[] handles = value >= 0 ? [value] : Members(Reference(value)).ToArray();
            foreach (var handle in handles)
            {
                var entry = directory[handle];
                yield return new BucketEntry(map.Slots[at].Key, entry.Id, entry.SketchLow, entry.SketchHigh);
            }
        }
    }

    private static void Consider(in VectorDirectory.Entry entry, ulong sketchLow, ulong sketchHigh, int maxHamming, long self, int item, PooledList<Candidate> found)
    {
        var distance = ulong.PopCount(entry.SketchLow ^ sketchLow) + ulong.PopCount(entry.SketchHigh ^ sketchHigh);
        if ((int)distance <= maxHamming && entry.Id != self)
        {
            found.Add(new Candidate(item, entry.Id));
        }
    }

    private static int Run(int reference) => -2 - reference;

    private static int Reference(int value) => -2 - value;

    /// <summary>The members of the run at <paramref name="reference"/>, as many as its count said when read.</summary>
    private ReadOnlySpan<int> Members(int reference)
    {
        if ((reference & 1) != 0)
        {
            var large = Volatile.Read(ref Volatile.Read(ref _large)[reference >> 2]);
            return large.AsSpan(1, Volatile.Read(ref large[0]) & CountMask);
        }

        var page = Volatile.Read(ref _arena)[reference >> PageBits];
        var start = reference & (PageSize - 1);
        return page.AsSpan(start + 1, Volatile.Read(ref page[start]) & CountMask);
    }

    /// <summary>A free block of 2^<paramref name="size"/> ints: a reused one, or the next of the arena.</summary>
    private int Allocate(int size)
    {
        if (_free[size] is { Count: > 0 } free)
        {
            var reused = free[^1];
            free.RemoveAt(free.Count - 1);
            return reused;
        }

        var length = 1 << size;
        if ((_top & (PageSize - 1)) + length > PageSize)
        {
            // The page's tail cannot hold the block: its rest becomes free blocks (every block is a multiple of 4 ints).
            var rest = PageSize - (_top & (PageSize - 1));
            while (rest > 0)
            {
                var piece = BitOperations.Log2((uint)rest);
                _free[piece].Add(_top);
                _top += 1 << piece;
                rest -= 1 << piece;
            }
        }

        PageList.AddWhenStarting(ref _arena, _top, PageBits);
        var offset = _top;
        _top += length;
        return offset;
    }

    private int NewLargeIndex(int[] members)
    {
        var large = _large;
        if (_largeCount == large.Length)
        {
            Array.Resize(ref large, Math.Max(4, large.Length * 2));
        }

        large[_largeCount] = members;
        Volatile.Write(ref _large, large);
        return _largeCount++;
    }

    private void AddToLarge(int index, int handle)
    {
        var members = _large[index];
        var count = members[0] & CountMask;
        if (count + 1 == members.Length)
        {
            // Doubled in place of the old array, which the GC keeps for any reader still holding it.
            Array.Resize(ref members, members.Length * 2);
            members[1 + count] = handle;
            members[0] = (count + 1) | (LargeClass << 24);
            Volatile.Write(ref _large[index], members);
            return;
        }

        members[1 + count] = handle;
        Volatile.Write(ref members[0], (count + 1) | (LargeClass << 24));
    }

    /// <summary>
    /// A block no slot names any more: reusable once no reader that could have read its slot before is still reading.
    /// A reader counts itself in before it reads a slot, and the writer reads the count after it has replaced the slot
    /// (both full fences), so a count of zero means every reader that saw the old block has finished.
    /// </summary>
    private void Retire(int offset, int size)
    {
        if ((offset & 1) != 0)
        {
            return; // a large array is left to the GC
        }

        _retired.Add((offset, size));
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _readers) == 0)
        {
            foreach (var (retired, retiredSize) in _retired)
            {
                _free[retiredSize].Add(retired);
            }

            _retired.Clear();
        }
    }

    /// <summary>
    /// Bucket key → its member or run: open addressing with linear probing, replaced whole when it grows. A slot's key
    /// and value lie together (12 bytes), so that a lookup costs one cache miss, not one per array.
    /// </summary>
    private sealed class SlotMap
    {
        public SlotMap(int length)
        {
            Slots = new Slot[length];
            Slots.AsSpan().Fill(new Slot { Value = Empty });
        }

        public Slot[] Slots { get; }

        /// <summary>The slot holding <paramref name="key"/>, or the empty slot where it belongs.</summary>
        public int SlotOf(ulong key)
        {
            var mask = Slots.Length - 1;
            var at = HomeOf(key);
            while (Volatile.Read(ref Slots[at].Value) != Empty && Slots[at].Key != key)
            {
                at = (at + 1) & mask;
            }

            return at;
        }

        /// <summary>Fetches the cache line of <paramref name="key"/>'s first slot (a hint: the array may move, which costs nothing).</summary>
        public unsafe void Prefetch(ulong key)
        {
            if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
            {
                System.Runtime.Intrinsics.X86.Sse.Prefetch0(System.Runtime.CompilerServices.Unsafe.AsPointer(ref Slots[HomeOf(key)]));
            }
        }

        // Bucket keys keep the last rotation's hash in their low bits, so spread them with a multiplicative hash.
        private int HomeOf(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> (64 - BitOperations.Log2((uint)Slots.Length))) & (Slots.Length - 1);

        /// <summary>A map twice the size holding the same buckets (built whole before anyone reads it).</summary>
        public SlotMap Doubled()
        {
            var larger = new SlotMap(Slots.Length * 2);
            foreach (var slot in Slots)
            {
                if (slot.Value != Empty)
                {
                    larger.Slots[larger.SlotOf(slot.Key)] = slot;
                }
            }

            return larger;
        }
    }

    /// <summary>A bucket's key and its member or run (<see cref="Empty"/> when the slot is free).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct Slot
    {
        public ulong Key;
        public int Value;
    }

    /// <summary>A reader counted in by <see cref="Reading"/>; disposing it counts the reader out.</summary>
    internal readonly struct ReaderScope(BucketIndex index) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref index._readers);
    }
}
