using System.Numerics;

namespace LshCluster.Grains.Shards;

/// <summary>
/// The vectors that are members of some bucket of this silo's shards, each once, by a 4-byte handle: its id and
/// 128-bit sketch. A bucket holds handles, so a vector in L tables costs 24 bytes here once and 4 bytes per table
/// (issue 15, item 4), not L copies of its id and sketch. Shared by every shard active in the silo; its members are
/// never removed (a deleted vector's bucket entries stay until a reload, as before; its record is gone, so no check
/// matches it), and a shard loaded again finds its members' handles here.
/// Many writers (the shards' turns run on any thread) take a lock only to add a vector new to the silo; readers take
/// none: an entry is written before the handle that reaches it is published, and the page list and the id map are
/// replaced whole when they grow.
/// </summary>
internal sealed class VectorDirectory
{
    // 2,048 entries of 24 bytes: 48 KB a page, below the large object heap.
    private const int PageBits = 11;
    private const int PageSize = 1 << PageBits;

    private readonly Lock _gate = new();
    private Entry[][] _pages = [];
    private HandleMap _handles = new(1024);
    private int _count;

    /// <summary>Vectors in the directory.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The handle of vector <paramref name="id"/>, added with its sketch if it is new to the silo.</summary>
    public int HandleOf(long id, ulong sketchLow, ulong sketchHigh)
    {
        var known = Volatile.Read(ref _handles).Find(id);
        if (known >= 0)
        {
            return known;
        }

        lock (_gate)
        {
            known = _handles.Find(id);
            if (known >= 0)
            {
                return known;
            }

            var handle = _count;
            PageList.AddWhenStarting(ref _pages, handle, PageBits);
            _pages[handle >> PageBits][handle & (PageSize - 1)] = new Entry(id, sketchLow, sketchHigh);
            if ((handle + 1) * 4 > _handles.Length * 3)
            {
                Volatile.Write(ref _handles, _handles.Doubled());
            }

            _handles.Add(id, handle); // published after the entry it names
            Volatile.Write(ref _count, handle + 1);
            return handle;
        }
    }

    /// <summary>The pages of entries as they are now: every handle published before this read is in them.</summary>
    public Entry[][] Pages => Volatile.Read(ref _pages);

    /// <summary>The entry of <paramref name="handle"/> in <paramref name="pages"/> (see <see cref="Pages"/>).</summary>
    public static ref readonly Entry At(Entry[][] pages, int handle) => ref pages[handle >> PageBits][handle & (PageSize - 1)];

    /// <summary>Asks the processor to fetch the entry of <paramref name="handle"/> in <paramref name="pages"/> (a hint; a handle beyond them is ignored).</summary>
    public static unsafe void Prefetch(Entry[][] pages, int handle)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported && (uint)(handle >> PageBits) < (uint)pages.Length)
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(System.Runtime.CompilerServices.Unsafe.AsPointer(ref pages[handle >> PageBits][handle & (PageSize - 1)]));
        }
    }

    /// <summary>The entry of <paramref name="handle"/>.</summary>
    public ref readonly Entry this[int handle] => ref At(Pages, handle);

    /// <summary>A vector's id and sketch.</summary>
    internal readonly record struct Entry(long Id, ulong SketchLow, ulong SketchHigh);

    /// <summary>Vector id → handle: open addressing with linear probing, replaced whole when it grows; one writer at a time.</summary>
    private sealed class HandleMap(int length)
    {
        private readonly long[] _ids = new long[length];
        private readonly int[] _handles = NewHandles(length);

        public int Length => _ids.Length;

        /// <summary>The handle of <paramref name="id"/>, or -1.</summary>
        public int Find(long id)
        {
            var mask = _ids.Length - 1;
            for (var at = SlotOf(id); ; at = (at + 1) & mask)
            {
                var handle = Volatile.Read(ref _handles[at]);
                if (handle < 0 || _ids[at] == id)
                {
                    return handle;
                }
            }
        }

        public void Add(long id, int handle)
        {
            var mask = _ids.Length - 1;
            var at = SlotOf(id);
            while (_handles[at] >= 0)
            {
                at = (at + 1) & mask;
            }

            _ids[at] = id;
            Volatile.Write(ref _handles[at], handle); // after the id a reader compares
        }

        /// <summary>A map twice the size holding the same handles (built whole before anyone reads it).</summary>
        public HandleMap Doubled()
        {
            var larger = new HandleMap(_ids.Length * 2);
            for (var i = 0; i < _ids.Length; i++)
            {
                if (_handles[i] >= 0)
                {
                    larger.Add(_ids[i], _handles[i]);
                }
            }

            return larger;
        }

        // Ids of one shard and millisecond differ in their low bits only: spread them with a multiplicative hash.
        private int SlotOf(long id) => (int)(((ulong)id * 0x9E3779B97F4A7C15UL) >> (64 - BitOperations.Log2((uint)_ids.Length)));

        private static int[] NewHandles(int length)
        {
            var handles = new int[length];
            Array.Fill(handles, -1);
            return handles;
        }
    }
}
