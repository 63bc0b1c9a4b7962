using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LshCluster.Core.Kernels;

namespace LshCluster.Core.Evaluation;

/// <summary>
/// The exact threshold graph by brute force: every pair (i, j), i &lt; j, whose cosine is at least a threshold. The
/// ground truth for recall and precision, so it must not miss a pair: a fast float32 screen on normalised copies
/// (blocked 4 × 4, fused multiply-adds) keeps pairs within a margin of the threshold, and those are decided by
/// <see cref="VectorMath.Cosine(ReadOnlySpan{float}, ReadOnlySpan{float})"/>, the engine's own cosine.
/// </summary>
public static class ExactNeighbours
{
    private const float ScreenMargin = 1e-3f;

    /// <summary>All pairs with cosine ≥ <paramref name="threshold"/>, as (i, j, cosine) with i &lt; j.</summary>
    public static List<(int I, int J, float Cosine)> Pairs(IReadOnlyList<float[]> vectors, float threshold)
    {
        var n = vectors.Count;
        if (n == 0)
        {
            return [];
        }

        var d = vectors[0].Length;
        var stride = (d + 15) & ~15;
        var unit = new float[n * stride];
        for (var i = 0; i < n; i++)
        {
            var v = vectors[i];
            var norm = MathF.Sqrt(VectorMath.SquaredNorm(v));
            for (var k = 0; k < d; k++)
            {
                unit[(i * stride) + k] = norm > 0 ? v[k] / norm : 0;
            }
        }

        var blocks = (n + 3) / 4;
        var found = new List<(int, int, float)>[blocks];
        Parallel.For(0, blocks, bi =>
        {
            var local = new List<(int, int, float)>();
            Span<float> dots = stackalloc float[16];
            var i0 = bi * 4;
            for (var j0 = i0; j0 < n; j0 += 4)
            {
                Dot4x4(unit, stride, i0, j0, n, dots);
                for (var a = 0; a < 4 && i0 + a < n; a++)
                {
                    for (var b = 0; b < 4 && j0 + b < n; b++)
                    {
                        var i = i0 + a;
                        var j = j0 + b;
                        if (j <= i || dots[(a * 4) + b] < threshold - ScreenMargin)
                        {
                            continue;
                        }

                        var cosine = VectorMath.Cosine(vectors[i], vectors[j]);
                        if (cosine >= threshold)
                        {
                            local.Add((i, j, cosine));
                        }
                    }
                }
            }

            found[bi] = local;
        });
        return [.. found.SelectMany(f => f)];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x4(float[] unit, int stride, int i0, int j0, int n, Span<float> dots)
    {
        // Rows past the end read row n − 1 again; their results are ignored by the caller.
        var r0 = Math.Min(i0, n - 1) * stride;
        var r1 = Math.Min(i0 + 1, n - 1) * stride;
        var r2 = Math.Min(i0 + 2, n - 1) * stride;
        var r3 = Math.Min(i0 + 3, n - 1) * stride;
        var c0 = Math.Min(j0, n - 1) * stride;
        var c1 = Math.Min(j0 + 1, n - 1) * stride;
        var c2 = Math.Min(j0 + 2, n - 1) * stride;
        var c3 = Math.Min(j0 + 3, n - 1) * stride;
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        Vector256<float> s8 = default, s9 = default, s10 = default, s11 = default, s12 = default, s13 = default, s14 = default, s15 = default;
        ref var u = ref unit[0];
        for (var k = 0; k < stride; k += 8)
        {
            var a0 = Vector256.LoadUnsafe(ref u, (nuint)(r0 + k));
            var a1 = Vector256.LoadUnsafe(ref u, (nuint)(r1 + k));
            var a2 = Vector256.LoadUnsafe(ref u, (nuint)(r2 + k));
            var a3 = Vector256.LoadUnsafe(ref u, (nuint)(r3 + k));
            var b0 = Vector256.LoadUnsafe(ref u, (nuint)(c0 + k));
            var b1 = Vector256.LoadUnsafe(ref u, (nuint)(c1 + k));
            var b2 = Vector256.LoadUnsafe(ref u, (nuint)(c2 + k));
            var b3 = Vector256.LoadUnsafe(ref u, (nuint)(c3 + k));
            s0 = Vector256.FusedMultiplyAdd(a0, b0, s0);
            s1 = Vector256.FusedMultiplyAdd(a0, b1, s1);
            s2 = Vector256.FusedMultiplyAdd(a0, b2, s2);
            s3 = Vector256.FusedMultiplyAdd(a0, b3, s3);
            s4 = Vector256.FusedMultiplyAdd(a1, b0, s4);
            s5 = Vector256.FusedMultiplyAdd(a1, b1, s5);
            s6 = Vector256.FusedMultiplyAdd(a1, b2, s6);
            s7 = Vector256.FusedMultiplyAdd(a1, b3, s7);
            s8 = Vector256.FusedMultiplyAdd(a2, b0, s8);
            s9 = Vector256.FusedMultiplyAdd(a2, b1, s9);
            s10 = Vector256.FusedMultiplyAdd(a2, b2, s10);
            s11 = Vector256.FusedMultiplyAdd(a2, b3, s11);
            s12 = Vector256.FusedMultiplyAdd(a3, b0, s12);
            s13 = Vector256.FusedMultiplyAdd(a3, b1, s13);
            s14 = Vector256.FusedMultiplyAdd(a3, b2, s14);
            s15 = Vector256.FusedMultiplyAdd(a3, b3, s15);
        }

        dots[0] = Vector256.Sum(s0);
        dots[1] = Vector256.Sum(s1);
        dots[2] = Vector256.Sum(s2);
        dots[3] = Vector256.Sum(s3);
        dots[4] = Vector256.Sum(s4);
        dots[5] = Vector256.Sum(s5);
        dots[6] = Vector256.Sum(s6);
        dots[7] = Vector256.Sum(s7);
        dots[8] = Vector256.Sum(s8);
        dots[9] = Vector256.Sum(s9);
        dots[10] = Vector256.Sum(s10);
        dots[11] = Vector256.Sum(s11);
        dots[12] = Vector256.Sum(s12);
        dots[13] = Vector256.Sum(s13);
        dots[14] = Vector256.Sum(s14);
        dots[15] = Vector256.Sum(s15);
    }
}
