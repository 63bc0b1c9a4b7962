using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LshCluster.Core.Kernels;

/// <summary>
/// Dot products, norms and cosines for verification and normalisation, with 512/256/128-bit paths and a scalar
/// reference that give bit-identical results.
/// </summary>
/// <remarks>
/// Determinism across instruction sets: every path keeps 64 partial sums (partial j accumulates element products
/// i ≡ j mod 64, in increasing i, with a separate multiply and add — no fused multiply-add, which would round
/// differently), then adds them in one fixed tree (j + 32, j + 16, … j + 1). A duplicate decision at a threshold
/// therefore does not depend on which machine computed it.
/// </remarks>
[SkipLocalsInit]
public static class VectorMath
{
    private const int Partials = 64;

    /// <summary>The dot product <c>Σ x_i y_i</c>.</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (x.Length != y.Length)
        {
            ThrowLengths(x.Length, y.Length);
        }

        if (SimdLevel.Use512)
        {
            return Dot512(x, y);
        }

        if (SimdLevel.Use256)
        {
            return DotPartials<Vector256<float>, Simd256>(x, y);
        }

        return SimdLevel.Use128 ? DotPartials<Vector128<float>, Simd128>(x, y) : DotScalar(x, y);
    }

    /// <summary>The squared Euclidean norm <c>Σ x_i²</c>.</summary>
    public static float SquaredNorm(ReadOnlySpan<float> x) => Dot(x, x);

    /// <summary>
    /// The cosine of the angle between <paramref name="x"/> and <paramref name="y"/>, clamped to [−1, 1];
    /// 0 when either vector is zero.
    /// </summary>
    public static float Cosine(ReadOnlySpan<float> x, ReadOnlySpan<float> y) =>
        Cosine(Dot(x, y), SquaredNorm(x), SquaredNorm(y));

    /// <summary>The cosine from a dot product and the two squared norms (stored norms avoid recomputing them).</summary>
    public static float Cosine(float dot, float squaredNormX, float squaredNormY)
    {
        var denominator = Math.Sqrt((double)squaredNormX * squaredNormY);
        if (denominator == 0)
        {
            return 0;
        }

        return (float)Math.Clamp(dot / denominator, -1.0, 1.0);
    }

    /// <summary>The scalar reference of <see cref="Dot"/>.</summary>
    internal static float DotScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        Span<float> sums = stackalloc float[Partials];
        sums.Clear();
        for (var i = 0; i < x.Length; i++)
        {
            sums[i & (Partials - 1)] += x[i] * y[i];
        }

        for (var half = Partials / 2; half >= 1; half >>= 1)
        {
            for (var j = 0; j < half; j++)
            {
                sums[j] += sums[j + half];
            }
        }

        return sums[0];
    }

    /// <summary>The 512-bit path: four register accumulators hold the 64 partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Dot512(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        ref var px = ref MemoryMarshal.GetReference(x);
        ref var py = ref MemoryMarshal.GetReference(y);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var full = x.Length & ~(Partials - 1);
        for (var i = 0; i < full; i += Partials)
        {
            a0 += Vector512.LoadUnsafe(ref px, (nuint)i) * Vector512.LoadUnsafe(ref py, (nuint)i);
            a1 += Vector512.LoadUnsafe(ref px, (nuint)(i + 16)) * Vector512.LoadUnsafe(ref py, (nuint)(i + 16));
            a2 += Vector512.LoadUnsafe(ref px, (nuint)(i + 32)) * Vector512.LoadUnsafe(ref py, (nuint)(i + 32));
            a3 += Vector512.LoadUnsafe(ref px, (nuint)(i + 48)) * Vector512.LoadUnsafe(ref py, (nuint)(i + 48));
        }

        if (full < x.Length)
        {
            // The tail is copied into zero-padded blocks: the padding adds +0 products, which leave every partial
            // sum unchanged (a partial is never −0), so the result matches the scalar reference.
            Span<float> tx = stackalloc float[Partials];
            Span<float> ty = stackalloc float[Partials];
            tx.Clear();
            ty.Clear();
            x[full..].CopyTo(tx);
            y[full..].CopyTo(ty);
            ref var qx = ref MemoryMarshal.GetReference(tx);
            ref var qy = ref MemoryMarshal.GetReference(ty);
            a0 += Vector512.LoadUnsafe(ref qx) * Vector512.LoadUnsafe(ref qy);
            a1 += Vector512.LoadUnsafe(ref qx, 16) * Vector512.LoadUnsafe(ref qy, 16);
            a2 += Vector512.LoadUnsafe(ref qx, 32) * Vector512.LoadUnsafe(ref qy, 32);
            a3 += Vector512.LoadUnsafe(ref qx, 48) * Vector512.LoadUnsafe(ref qy, 48);
        }

        return Simd512.SumTree((a0 + a2) + (a1 + a3));
    }

    /// <summary>The 256- and 128-bit paths: 64 / Count accumulators, reduced by the same tree.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotPartials<TVec, TOps>(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
        where TVec : unmanaged
        where TOps : struct, ISimdFloatOps<TVec>
    {
        var w = TOps.Count;
        var count = Partials / w;
        Span<TVec> acc = stackalloc TVec[Partials / 4];
        acc = acc[..count];
        acc.Clear();
        ref var px = ref MemoryMarshal.GetReference(x);
        ref var py = ref MemoryMarshal.GetReference(y);
        var full = x.Length & ~(Partials - 1);
        for (var i = 0; i < full; i += Partials)
        {
            for (var q = 0; q < count; q++)
            {
                acc[q] = TOps.Add(acc[q], TOps.Multiply(TOps.Load(ref Unsafe.Add(ref px, i + q * w)), TOps.Load(ref Unsafe.Add(ref py, i + q * w))));
            }
        }

        if (full < x.Length)
        {
            Span<float> tx = stackalloc float[Partials];
            Span<float> ty = stackalloc float[Partials];
            tx.Clear();
            ty.Clear();
            x[full..].CopyTo(tx);
            y[full..].CopyTo(ty);
            for (var q = 0; q < count; q++)
            {
                acc[q] = TOps.Add(acc[q], TOps.Multiply(TOps.Load(ref tx[q * w]), TOps.Load(ref ty[q * w])));
            }
        }

        for (var half = count / 2; half >= 1; half >>= 1)
        {
            for (var q = 0; q < half; q++)
            {
                acc[q] = TOps.Add(acc[q], acc[q + half]);
            }
        }

        return TOps.SumTree(acc[0]);
    }

    private static void ThrowLengths(int x, int y) =>
        throw new ArgumentException($"vectors of different lengths: {x} and {y}");
}
