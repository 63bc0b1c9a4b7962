using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LshCluster.Core.Kernels;

namespace LshCluster.Core.Evaluation;

/// <summary>
/// The exact threshold graph: every pair (i, j), i &lt; j, whose cosine is at least a threshold. The ground truth for
/// recall and precision, so it must not miss a pair: a fast float32 screen on normalised copies (blocked 4 × 4, fused
/// multiply-adds) keeps pairs within a margin of the threshold, and those are decided by
/// <see cref="VectorMath.Cosine(ReadOnlySpan{float}, ReadOnlySpan{float})"/>, the engine's own cosine. Only pairs that
/// can reach the threshold are screened: two unit vectors at cosine ≥ t are at most r = √(2(1 − t)) apart, and so are
/// their projections on any orthonormal directions; the vectors are put in cells of side r by their projections on the
/// data's four principal directions, and a cell is compared with itself and its 80 neighbours only. On Fashion-MNIST
/// at 0.98 (70,000 images, 2.4 billion pairs) that takes 36 s on two cores instead of 175 s.
/// </summary>
public static class ExactNeighbours
{
    private const float ScreenMargin = 1e-3f;
    private const int Directions = 4;

    // Bits per packed cell coordinate.
    private const int KeyBits = 15;

    // Below this many vectors every pair is screened: the cells would not pay for themselves.
    private const int CellsFrom = 2048;

    /// <summary>All pairs with cosine ≥ <paramref name="threshold"/>, as (i, j, cosine) with i &lt; j.</summary>
    public static List<(int I, int J, float Cosine)> Pairs(IReadOnlyList<float[]> vectors, float threshold) =>
        Pairs(vectors, threshold, vectors.Count >= CellsFrom);

    /// <summary>As <see cref="Pairs(IReadOnlyList{float[]}, float)"/>, screening only neighbouring cells or every pair (for the tests).</summary>
    internal static List<(int I, int J, float Cosine)> Pairs(IReadOnlyList<float[]> vectors, float threshold, bool cells)
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

        // Rows sorted by cell, so that each cell is one run of rows for the blocked screen.
        var (order, runs) = cells ? Cells(unit, stride, n, threshold) : ([.. Enumerable.Range(0, n)], new Dictionary<long, (int, int)> { [0] = (0, n) });
        var sorted = new float[n * stride];
        for (var i = 0; i < n; i++)
        {
            Array.Copy(unit, order[i] * stride, sorted, i * stride, stride);
        }

        var keys = runs.Keys.OrderByDescending(k => runs[k].Item2 - runs[k].Item1).ToArray(); // largest first: even work
        var found = new List<(int, int, float)>[keys.Length];
        Parallel.For(0, keys.Length, c =>
        {
            var local = new List<(int, int, float)>();
            var (aStart, aEnd) = runs[keys[c]];
            foreach (var neighbour in cells ? Neighbours(keys[c]) : [keys[c]])
            {
                // Each pair of cells once: from the smaller key.
                if (neighbour >= keys[c] && runs.TryGetValue(neighbour, out var b))
                {
                    Screen(vectors, sorted, stride, order, threshold, (aStart, aEnd), b, neighbour == keys[c], local);
                }
            }

            found[c] = local;
        });
        return [.. found.SelectMany(f => f)];
    }

    private static void Screen(IReadOnlyList<float[]> vectors, float[] sorted, int stride, int[] order, float threshold,
        (int Start, int End) a, (int Start, int End) b, bool same, List<(int, int, float)> found)
    {
        Span<float> dots = stackalloc float[16];
        for (var i0 = a.Start; i0 < a.End; i0 += 4)
        {
            for (var j0 = same ? i0 : b.Start; j0 < b.End; j0 += 4)
            {
                Dot4x4(sorted, stride, i0, a.End, j0, b.End, dots);
                for (var x = 0; x < 4 && i0 + x < a.End; x++)
                {
                    for (var y = 0; y < 4 && j0 + y < b.End; y++)
                    {
                        var i = i0 + x;
                        var j = j0 + y;
                        if ((same && j <= i) || dots[(x * 4) + y] < threshold - ScreenMargin)
                        {
                            continue;
                        }

                        var (lo, hi) = order[i] < order[j] ? (order[i], order[j]) : (order[j], order[i]);
                        var cosine = VectorMath.Cosine(vectors[lo], vectors[hi]);
                        if (cosine >= threshold)
                        {
                            found.Add((lo, hi, cosine));
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// The rows in cell order and each cell's run of them: cells of side r (plus a margin for rounding) over the rows'
    /// projections on <see cref="Directions"/> orthonormal principal directions, each cell keyed by its packed coordinates.
    /// </summary>
    private static (int[] Order, Dictionary<long, (int Start, int End)> Runs) Cells(float[] unit, int stride, int n, float threshold)
    {
        var side = MathF.Sqrt(2 * MathF.Max(0, 1 - threshold)) + ScreenMargin;
        var directions = PrincipalDirections(unit, stride, n);
        var cellOf = new long[n];
        for (var i = 0; i < n; i++)
        {
            var row = unit.AsSpan(i * stride, stride);
            long key = 0;
            foreach (var direction in directions)
            {
                // |projection| ≤ 1, so a coordinate lies within ±(1/side + 1): 15 bits hold it from side = 0.001 on.
                key = (key << KeyBits) | (long)(Math.Floor(VectorMath.Dot(row, direction) / side) + (1 << (KeyBits - 1)));
            }

            cellOf[i] = key;
        }

        var order = Enumerable.Range(0, n).OrderBy(i => cellOf[i]).ToArray();
        var runs = new Dictionary<long, (int, int)>();
        for (var start = 0; start < n;)
        {
            var end = start;
            while (end < n && cellOf[order[end]] == cellOf[order[start]])
            {
                end++;
            }

            runs[cellOf[order[start]]] = (start, end);
            start = end;
        }

        return (order, runs);
    }

    /// <summary>The key and its neighbours: every packed coordinate − 1, the same, or + 1.</summary>
    private static IEnumerable<long> Neighbours(long key)
    {
        var count = 1;
        for (var c = 0; c < Directions; c++)
        {
            count *= 3;
        }

        for (var n = 0; n < count; n++)
        {
            var neighbour = key;
            var digits = n;
            for (var c = 0; c < Directions; c++, digits /= 3)
            {
                neighbour += (long)((digits % 3) - 1) << (c * KeyBits);
            }

            yield return neighbour;
        }
    }

    /// <summary>
    /// Orthonormal directions of largest spread of the rows about their mean (power iteration with deflation, on a
    /// sample of rows): the cells only need orthonormal directions to be exact; spread makes them small.
    /// </summary>
    private static float[][] PrincipalDirections(float[] unit, int stride, int n)
    {
        var step = Math.Max(1, n / 5000);
        var rows = Enumerable.Range(0, n).Where(i => i % step == 0).ToArray();
        var mean = new float[stride];
        foreach (var i in rows)
        {
            for (var k = 0; k < stride; k++)
            {
                mean[k] += unit[(i * stride) + k] / rows.Length;
            }
        }

        var random = new Random(17);
        var directions = new float[Directions][];
        for (var c = 0; c < Directions; c++)
        {
            var w = new float[stride];
            for (var k = 0; k < stride; k++)
            {
                w[k] = (float)(random.NextDouble() - 0.5);
            }

            for (var iteration = 0; iteration < 12; iteration++)
            {
                Orthonormalise(w, directions.AsSpan(0, c));
                var next = new float[stride];
                var meanDot = VectorMath.Dot(mean, w);
                foreach (var i in rows)
                {
                    var row = unit.AsSpan(i * stride, stride);
                    var s = VectorMath.Dot(row, w) - meanDot;
                    for (var k = 0; k < stride; k++)
                    {
                        next[k] += s * (row[k] - mean[k]);
                    }
                }

                w = next;
            }

            Orthonormalise(w, directions.AsSpan(0, c));
            directions[c] = w;
        }

        return directions;
    }

    private static void Orthonormalise(float[] w, ReadOnlySpan<float[]> against)
    {
        foreach (var u in against)
        {
            var dot = VectorMath.Dot(w, u);
            for (var k = 0; k < w.Length; k++)
            {
                w[k] -= dot * u[k];
            }
        }

        var norm = MathF.Sqrt(VectorMath.SquaredNorm(w));
        for (var k = 0; k < w.Length; k++)
        {
            w[k] = norm > 0 ? w[k] / norm : 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x4(float[] unit, int stride, int i0, int iEnd, int j0, int jEnd, Span<float> dots)
    {
        // Rows past a run's end read its last row again; their results are ignored by the caller.
        var r0 = Math.Min(i0, iEnd - 1) * stride;
        var r1 = Math.Min(i0 + 1, iEnd - 1) * stride;
        var r2 = Math.Min(i0 + 2, iEnd - 1) * stride;
        var r3 = Math.Min(i0 + 3, iEnd - 1) * stride;
        var c0 = Math.Min(j0, jEnd - 1) * stride;
        var c1 = Math.Min(j0 + 1, jEnd - 1) * stride;
        var c2 = Math.Min(j0 + 2, jEnd - 1) * stride;
        var c3 = Math.Min(j0 + 3, jEnd - 1) * stride;
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
