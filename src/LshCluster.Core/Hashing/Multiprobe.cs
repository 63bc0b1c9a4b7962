using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LshCluster.Core.Hashing;

/// <summary>
/// Multiprobe sequences (Lv et al. 2007; FALCONN): the buckets a near neighbour most likely fell into, in order.
/// A probe's cost is a sum over the table's hash functions of how far the query is from switching that function's
/// value — cross-polytope: <c>(max|y| − s·y_j)²</c> for coordinate j with sign s; hyperplane: <c>y_j²</c> for
/// flipping bit j. Costs and tie-breaks are deterministic, so every machine probes the same buckets.
/// </summary>
[SkipLocalsInit]
internal static class Multiprobe
{
    /// <summary>
    /// The best <c>codes.Length</c> hash values of one cross-polytope rotation, lowest cost first (the first is
    /// the hash itself, cost 0). Ties go to the smaller coordinate index.
    /// </summary>
    /// <returns>How many were written: min(T, 2m).</returns>
    public static int TopCrossPolytopeAlternatives(ReadOnlySpan<float> y, Span<int> codes, Span<float> costs)
    {
        var m = y.Length;
        var capacity = codes.Length;
        Span<float> values = stackalloc float[capacity];
        var count = m % BlockSize == 0 && m <= MaxBlockedLength && capacity < m / BlockSize
            ? TopOfBlocks(y, values, codes)
            : TopOfRange(y, 0, m, m, values, codes, 0);

        // Opposite signs only matter when T exceeds the number of coordinates.
        for (var j = 0; j < m && m < capacity; j++)
        {
            var a = -Math.Abs(y[j]);
            if (count == capacity && !(a > values[count - 1]))
            {
                continue;
            }

            count = Insert(values, codes, count, a, IsNegative(y[j]) ? j : j + m);
        }

        for (var i = 0; i < count; i++)
        {
            var gap = values[0] - values[i];
            costs[i] = gap * gap;
        }

        return count;
    }

    /// <summary>
    /// The T lowest-cost combinations of per-rotation alternatives as bucket keys. Best-first search in which a
    /// state's parent decrements its last non-zero position, so every combination is generated once.
    /// </summary>
    public static void CrossPolytopeProbes(
        LshScheme scheme, int table, ReadOnlySpan<int> altCodes, ReadOnlySpan<float> altCosts, ReadOnlySpan<int> altCounts, Span<ulong> probes)
    {
        var k = altCounts.Length;
        var t = probes.Length;
        Span<Entry> heap = stackalloc Entry[(t * k) + 1];
        Span<int> codes = stackalloc int[k];
        var size = Push(heap, 0, new Entry(0, 0, 0));
        var written = 0;
        while (written < t && size > 0)
        {
            var top = heap[0];
            size = Pop(heap, size);
            for (var r = 0; r < k; r++)
            {
                codes[r] = altCodes[(r * t) + IndexAt(top.State, r)];
            }

            probes[written++] = scheme.BucketKey(table, codes);
            for (var r = top.Last; r < k; r++)
            {
                var index = IndexAt(top.State, r);
                if (index + 1 < altCounts[r])
                {
                    var cost = top.Cost - altCosts[(r * t) + index] + altCosts[(r * t) + index + 1];
                    size = Push(heap, size, new Entry(cost, top.State + (1UL << (8 * r)), r));
                }
            }
        }

        // Fewer distinct buckets than probes (tiny dimensions): repeat the main bucket, which is harmless.
        for (; written < t; written++)
        {
            probes[written] = probes[0];
        }
    }

    /// <summary>The T lowest-cost sets of flipped bits (Lv et al.'s shift/expand enumeration) as bucket keys.</summary>
    public static void HyperplaneProbes(LshScheme scheme, int table, ulong bits, ReadOnlySpan<float> margins, Span<ulong> probes)
    {
        var k = margins.Length;
        Span<int> order = stackalloc int[k];
        for (var i = 0; i < k; i++)
        {
            // Insertion sort by margin, ties by bit index: k ≤ 64.
            var j = i;
            while (j > 0 && margins[order[j - 1]] > margins[i])
            {
                order[j] = order[j - 1];
                j--;
            }

            order[j] = i;
        }

        var t = probes.Length;
        probes[0] = scheme.HyperplaneKey(table, bits);
        Span<Entry> heap = stackalloc Entry[(2 * t) + 1];
        var size = Push(heap, 0, new Entry(margins[order[0]], 1, 0));
        var written = 1;
        while (written < t && size > 0)
        {
            var top = heap[0];
            size = Pop(heap, size);
            ulong flips = 0;
            for (var s = top.State; s != 0; s &= s - 1)
            {
                flips |= 1UL << order[System.Numerics.BitOperations.TrailingZeroCount(s)];
            }

            probes[written++] = scheme.HyperplaneKey(table, bits ^ flips);
            var next = top.Last + 1;
            if (next < k)
            {
                var add = margins[order[next]];
                size = Push(heap, size, new Entry(top.Cost - margins[order[top.Last]] + add, (top.State & ~(1UL << top.Last)) | (1UL << next), next));
                size = Push(heap, size, new Entry(top.Cost + add, top.State | (1UL << next), next));
            }
        }

        for (; written < t; written++)
        {
            probes[written] = probes[0];
        }
    }

    private const int BlockSize = 8;
    private const int MaxBlockedLength = 4096;

    /// <summary>
    /// The T largest |y_j| with their codes, scanning only the blocks of 8 whose maximum reaches the T-th largest
    /// block maximum: every other value is strictly smaller than T values in other blocks, so it cannot be among the
    /// T largest nor decide a tie. Scanning the kept blocks in index order gives exactly the full scan's answer.
    /// </summary>
    private static int TopOfBlocks(ReadOnlySpan<float> y, Span<float> values, Span<int> codes)
    {
        var m = y.Length;
        var blocks = m / BlockSize;
        Span<float> blockMax = stackalloc float[blocks];
        for (var b = 0; b < blocks; b++)
        {
            blockMax[b] = MaxOf(Vector256.Abs(Vector256.Create(y.Slice(b * BlockSize, BlockSize))));
        }

        // The T-th largest block maximum (ties kept), by the same bounded insertion as the values.
        var capacity = values.Length;
        Span<float> top = stackalloc float[capacity];
        Span<int> unused = stackalloc int[capacity];
        var filled = 0;
        for (var b = 0; b < blocks; b++)
        {
            if (filled < capacity || blockMax[b] > top[filled - 1])
            {
                filled = Insert(top, unused, filled, blockMax[b], b);
            }
        }

        var threshold = top[filled - 1];
        var count = 0;
        for (var b = 0; b < blocks; b++)
        {
            if (blockMax[b] >= threshold)
            {
                count = TopOfRange(y, b * BlockSize, BlockSize, m, values, codes, count);
            }
        }

        return count;
    }

    private static int TopOfRange(ReadOnlySpan<float> y, int start, int length, int m, Span<float> values, Span<int> codes, int count)
    {
        var capacity = values.Length;
        for (var j = start; j < start + length; j++)
        {
            var a = Math.Abs(y[j]);
            if (count == capacity && !(a > values[count - 1]))
            {
                continue;
            }

            count = Insert(values, codes, count, a, IsNegative(y[j]) ? j + m : j);
        }

        return count;
    }

    private static float MaxOf(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }

    private static int Insert(Span<float> values, Span<int> codes, int count, float value, int code)
    {
        var capacity = values.Length;
        var position = count < capacity ? count : capacity - 1;
        while (position > 0 && value > values[position - 1])
        {
            if (position < capacity)
            {
                values[position] = values[position - 1];
                codes[position] = codes[position - 1];
            }

            position--;
        }

        values[position] = value;
        codes[position] = code;
        return Math.Min(count + 1, capacity);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IndexAt(ulong state, int rotation) => (int)((state >> (8 * rotation)) & 0xFF);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsNegative(float value) => BitConverter.SingleToInt32Bits(value) < 0;

    private static int Push(Span<Entry> heap, int size, Entry entry)
    {
        var i = size;
        heap[i] = entry;
        while (i > 0)
        {
            var parent = (i - 1) / 2;
            if (!heap[i].IsBefore(heap[parent]))
            {
                break;
            }

            (heap[i], heap[parent]) = (heap[parent], heap[i]);
            i = parent;
        }

        return size + 1;
    }

    private static int Pop(Span<Entry> heap, int size)
    {
        size--;
        heap[0] = heap[size];
        var i = 0;
        while (true)
        {
            var left = (2 * i) + 1;
            if (left >= size)
            {
                break;
            }

            var child = left + 1 < size && heap[left + 1].IsBefore(heap[left]) ? left + 1 : left;
            if (!heap[child].IsBefore(heap[i]))
            {
                break;
            }

            (heap[i], heap[child]) = (heap[child], heap[i]);
            i = child;
        }

        return size;
    }

    private readonly record struct Entry(float Cost, ulong State, int Last)
    {
        public bool IsBefore(Entry other) => Cost < other.Cost || (Cost == other.Cost && State < other.State);
    }
}
