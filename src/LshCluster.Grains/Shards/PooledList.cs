using System.Buffers;

namespace LshCluster.Grains.Shards;

/// <summary>
/// A list whose array is rented from a pool and given back with <see cref="Return"/>: the insert pipeline's per-batch
/// lists (bucket operations, candidates, checks) come to megabytes per batch, and as fresh arrays they cost a silo a
/// third of its CPU in collections and in clearing new pages (docs/benchmarks.md). Not thread-safe; after
/// <see cref="Return"/> the list must not be used (one that is never returned is simply collected).
/// </summary>
/// <typeparam name="T">A struct; arrays of reference-holding structs are cleared on return.</typeparam>
internal sealed class PooledList<T>
    where T : struct
{
    // Many arrays per size: a batch has a list per shard (1,024) alive at once. The pool keeps what was returned, so
    // what it holds is bounded by the most that were in use together. Up to 16 M elements: a batch's checks run to
    // millions, and an array longer than the pool keeps is a fresh large object, its pages cleared, every batch.
    private static readonly ArrayPool<T> Pool = ArrayPool<T>.Create(1 << 24, 4096);
    private static readonly T[] Empty = [];

    private T[] _items;
    private int _count;

    public PooledList(int capacity = 0) => _items = capacity > 0 ? Pool.Rent(capacity) : Empty;

    public int Count => _count;

    /// <summary>The elements; valid until the next <see cref="Add"/> or <see cref="Return"/>.</summary>
    public Span<T> Span => _items.AsSpan(0, _count);

    /// <summary>The elements as a segment of the pooled array; valid until the next <see cref="Add"/> or <see cref="Return"/>.</summary>
    public ArraySegment<T> Segment => new(_items, 0, _count);

    public void Add(in T item)
    {
        if (_count == _items.Length)
        {
            Grow();
        }

        _items[_count++] = item;
    }

    /// <summary>Sets the number of elements, for a list filled through <see cref="Span"/> (capacity permitting).</summary>
    public void SetCount(int count)
    {
        if (count > _items.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"count: {count} exceeds the capacity {_items.Length}");
        }

        _count = count;
    }

    /// <summary>Gives the array back to the pool.</summary>
    public void Return()
    {
        GiveBack(_items, _count);
        _items = Empty;
        _count = 0;
    }

    private static void GiveBack(T[] items, int used)
    {
        if (items.Length == 0)
        {
            return;
        }

        if (System.Runtime.CompilerServices.RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            items.AsSpan(0, used).Clear(); // the used part only: the pool would clear the whole array
        }

        Pool.Return(items);
    }

    private void Grow()
    {
        var larger = Pool.Rent(Math.Max(16, _items.Length * 2));
        _items.AsSpan(0, _count).CopyTo(larger);
        GiveBack(_items, _count);
        _items = larger;
    }
}
