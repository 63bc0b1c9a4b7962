using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LshCluster.Core.Kernels;

/// <summary>
/// The index of the largest absolute value — the core of the cross-polytope hash. Ties go to the smallest index on
/// every path, so the answer is unique and identical across instruction sets.
/// </summary>
[SkipLocalsInit]
public static class ArgMax
{
    /// <summary>The smallest index i maximising <c>|values[i]|</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty.</exception>
    public static int OfAbsolute(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty)
        {
            throw new ArgumentException("no values", nameof(values));
        }

        if (SimdLevel.Use512 && values.Length >= 16 && values.Length % 16 == 0)
        {
            return OfAbsolute512(values);
        }

        if (SimdLevel.Use256 && values.Length >= 8 && values.Length % 8 == 0)
        {
            return OfAbsolute256(values);
        }

        return OfAbsoluteScalar(values);
    }

    internal static int OfAbsoluteScalar(ReadOnlySpan<float> values)
    {
        var best = 0;
        var bestValue = Math.Abs(values[0]);
        for (var i = 1; i < values.Length; i++)
        {
            var a = Math.Abs(values[i]);
            if (a > bestValue)
            {
                bestValue = a;
                best = i;
            }
        }

        return best;
    }

    /// <summary>Length a positive multiple of 16.</summary>
    /// <remarks>
    /// Two passes rather than one running (value, index) select: the maximum with four independent accumulators,
    /// then the first lane equal to it. The single pass was bound by its compare-select dependency chain
    /// (160 ns at n = 1024 here); both passes together are throughput-bound.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int OfAbsolute512(ReadOnlySpan<float> values)
    {
        ref var p = ref MemoryMarshal.GetReference(values);
        var n = values.Length;
        var m0 = Vector512.Abs(Vector512.LoadUnsafe(ref p));
        var m1 = m0;
        var m2 = m0;
        var m3 = m0;
        var i = 16;
        for (; i + 64 <= n; i += 64)
        {
            m0 = Vector512.Max(m0, Vector512.Abs(Vector512.LoadUnsafe(ref p, (nuint)i)));
            m1 = Vector512.Max(m1, Vector512.Abs(Vector512.LoadUnsafe(ref p, (nuint)(i + 16))));
            m2 = Vector512.Max(m2, Vector512.Abs(Vector512.LoadUnsafe(ref p, (nuint)(i + 32))));
            m3 = Vector512.Max(m3, Vector512.Abs(Vector512.LoadUnsafe(ref p, (nuint)(i + 48))));
        }

        for (; i < n; i += 16)
        {
            m0 = Vector512.Max(m0, Vector512.Abs(Vector512.LoadUnsafe(ref p, (nuint)i)));
        }

        var m = Vector512.Max(Vector512.Max(m0, m1), Vector512.Max(m2, m3));
        var top = Vector512.Create(MaxAcross(Vector256.Max(m.GetLower(), m.GetUpper())));
        for (i = 0; i < n; i += 16)
        {
            var hits = Vector512.Equals(Vector512.Abs(Vector512.LoadUnsafe(ref p, (nuint)i)), top).ExtractMostSignificantBits();
            if (hits != 0)
            {
                return i + BitOperations.TrailingZeroCount(hits);
            }
        }

        // Only a NaN, which validated input cannot produce, matches no lane.
        return 0;
    }

    /// <summary>Length a positive multiple of 8; the same two passes as <see cref="OfAbsolute512"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int OfAbsolute256(ReadOnlySpan<float> values)
    {
        ref var p = ref MemoryMarshal.GetReference(values);
        var n = values.Length;
        var m0 = Vector256.Abs(Vector256.LoadUnsafe(ref p));
        var m1 = m0;
        var i = 8;
        for (; i + 16 <= n; i += 16)
        {
            m0 = Vector256.Max(m0, Vector256.Abs(Vector256.LoadUnsafe(ref p, (nuint)i)));
            m1 = Vector256.Max(m1, Vector256.Abs(Vector256.LoadUnsafe(ref p, (nuint)(i + 8))));
        }

        for (; i < n; i += 8)
        {
            m0 = Vector256.Max(m0, Vector256.Abs(Vector256.LoadUnsafe(ref p, (nuint)i)));
        }

        var top = Vector256.Create(MaxAcross(Vector256.Max(m0, m1)));
        for (i = 0; i < n; i += 8)
        {
            var hits = Vector256.Equals(Vector256.Abs(Vector256.LoadUnsafe(ref p, (nuint)i)), top).ExtractMostSignificantBits();
            if (hits != 0)
            {
                return i + BitOperations.TrailingZeroCount(hits);
            }
        }

        // Only a NaN, which validated input cannot produce, matches no lane.
        return 0;
    }

    private static float MaxAcross(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }
}
