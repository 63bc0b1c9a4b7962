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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int OfAbsolute512(ReadOnlySpan<float> values)
    {
        ref var p = ref MemoryMarshal.GetReference(values);
        var best = Vector512.Abs(Vector512.LoadUnsafe(ref p));
        var bestIndex = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var index = bestIndex;
        var step = Vector512.Create(16);
        for (var i = 16; i < values.Length; i += 16)
        {
            index += step;
            var a = Vector512.Abs(Vector512.LoadUnsafe(ref p, (nuint)i));
            var greater = Vector512.GreaterThan(a, best);
            best = Vector512.ConditionalSelect(greater, a, best);
            bestIndex = Vector512.ConditionalSelect(greater.AsInt32(), index, bestIndex);
        }

        var max = Vector256.Max(best.GetLower(), best.GetUpper());
        var top = MaxAcross(max);
        // Lanes holding the maximum each hold the first index of their lane; the smallest of them is the answer.
        var candidates = Vector512.ConditionalSelect(Vector512.Equals(best, Vector512.Create(top)).AsInt32(), bestIndex, Vector512.Create(int.MaxValue));
        return Math.Min(MinAcross(candidates.GetLower()), MinAcross(candidates.GetUpper()));
    }

    /// <summary>Length a positive multiple of 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int OfAbsolute256(ReadOnlySpan<float> values)
    {
        ref var p = ref MemoryMarshal.GetReference(values);
        var best = Vector256.Abs(Vector256.LoadUnsafe(ref p));
        var bestIndex = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var index = bestIndex;
        var step = Vector256.Create(8);
        for (var i = 8; i < values.Length; i += 8)
        {
            index += step;
            var a = Vector256.Abs(Vector256.LoadUnsafe(ref p, (nuint)i));
            var greater = Vector256.GreaterThan(a, best);
            best = Vector256.ConditionalSelect(greater, a, best);
            bestIndex = Vector256.ConditionalSelect(greater.AsInt32(), index, bestIndex);
        }

        var top = MaxAcross(best);
        var candidates = Vector256.ConditionalSelect(Vector256.Equals(best, Vector256.Create(top)).AsInt32(), bestIndex, Vector256.Create(int.MaxValue));
        return MinAcross(candidates);
    }

    private static float MaxAcross(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }

    private static int MinAcross(Vector256<int> v)
    {
        var m = Vector128.Min(v.GetLower(), v.GetUpper());
        m = Vector128.Min(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Min(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }
}
