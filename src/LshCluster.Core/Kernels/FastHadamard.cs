using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LshCluster.Core.Kernels;

/// <summary>
/// The in-place, unnormalised fast Walsh–Hadamard transform: <c>x ← H x</c> with <c>H</c> the n × n Sylvester
/// Hadamard matrix (entries ±1), so <c>H·H = n·I</c>.
/// </summary>
/// <remarks>
/// Every path performs the same additions and subtractions in the same order — stage strides 1, 2, 4, … n/2, each
/// output either <c>a + b</c> or <c>a − b</c> of the previous stage — so the 512-, 256-, 128-bit and scalar paths
/// give bit-identical results on every instruction set. Stages with a stride below the lane count run inside the
/// register (a permute and a ±1 multiply-add per stage); the first pass then finishes the stages across a group of
/// 16 (AVX-512) or 8 vectors, and the rest run in radix-8/4/2 passes over memory: n = 256 on AVX-512 is one pass,
/// n = 1024 two.
/// </remarks>
[SkipLocalsInit]
public static class FastHadamard
{
    /// <summary>The largest supported transform length, 2^16.</summary>
    public const int MaxLength = 1 << 16;

    /// <summary>Transforms <paramref name="data"/> in place.</summary>
    /// <param name="data">Length 2^m with m = 1 … 16.</param>
    /// <exception cref="ArgumentException">The length is not a power of two in [2, 65536].</exception>
    public static void Transform(Span<float> data)
    {
        CheckLength(data.Length);
        Transform(data, data, default);
    }

    /// <summary>
    /// Computes <c>destination ← H · D · source</c>, where D is the ±1 diagonal whose bit i (bit i % 64 of word
    /// i / 64 of <paramref name="signs"/>) set means −1. Fusing the diagonal into the first pass saves one sweep
    /// over the data. <paramref name="source"/> may be the same span as <paramref name="destination"/>.
    /// </summary>
    /// <param name="source">The input, of the destination's length.</param>
    /// <param name="destination">The output; length 2^m with m = 1 … 16.</param>
    /// <param name="signs">Packed sign bits, at least ceil(n / 64) words; empty for no diagonal.</param>
    public static void Transform(ReadOnlySpan<float> source, Span<float> destination, ReadOnlySpan<ulong> signs)
    {
        var n = destination.Length;
        CheckLength(n);
        if (source.Length != n)
        {
            throw new ArgumentException($"source has {source.Length} values, destination {n}", nameof(source));
        }

        if (!signs.IsEmpty && signs.Length < (n + 63) / 64)
        {
            throw new ArgumentException($"{n} values need {(n + 63) / 64} sign words, got {signs.Length}", nameof(signs));
        }

        if (SimdLevel.Use512 && n >= 16)
        {
            Run<Vector512<float>, Simd512>(source, destination, signs);
        }
        else if (SimdLevel.Use256 && n >= 8)
        {
            Run<Vector256<float>, Simd256>(source, destination, signs);
        }
        else if (SimdLevel.Use128 && n >= 4)
        {
            Run<Vector128<float>, Simd128>(source, destination, signs);
        }
        else
        {
            TransformScalar(source, destination, signs);
        }
    }

    /// <summary>The scalar reference every vector path must match bit for bit.</summary>
    internal static void TransformScalar(ReadOnlySpan<float> source, Span<float> destination, ReadOnlySpan<ulong> signs)
    {
        var n = destination.Length;
        for (var i = 0; i < n; i++)
        {
            var negate = !signs.IsEmpty && ((signs[i >> 6] >> (i & 63)) & 1) != 0;
            destination[i] = negate ? -source[i] : source[i];
        }

        for (var h = 1; h < n; h <<= 1)
        {
            for (var block = 0; block < n; block += h << 1)
            {
                for (var j = block; j < block + h; j++)
                {
                    var a = destination[j];
                    var b = destination[j + h];
                    destination[j] = a + b;
                    destination[j + h] = a - b;
                }
            }
        }
    }

    /// <summary>Runs the transform with one vector width; exposed for the tests that compare paths.</summary>
    /// <remarks>
    /// The kernels are compiled fully optimised at once (AggressiveOptimization): under tiered compilation, dynamic
    /// PGO laid them out into code that ran 3–4× slower here (n = 256: 150 ns against 40 ns).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run<TVec, TOps>(ReadOnlySpan<float> source, Span<float> destination, ReadOnlySpan<ulong> signs)
        where TVec : struct
        where TOps : struct, ISimdFloatOps<TVec>
    {
        var n = destination.Length;
        var vectors = n / TOps.Count;
        ref var src = ref MemoryMarshal.GetReference(source);
        ref var dst = ref MemoryMarshal.GetReference(destination);
        ref var sgn = ref MemoryMarshal.GetReference(signs);
        var hasSigns = !signs.IsEmpty;

        // First pass: sign diagonal, in-register stages, then cross-vector stages over groups of up to 16 vectors
        // (AVX-512 has 32 registers; with 16 a 16-vector group would spill, so narrower paths keep 8).
        var group = Math.Min(vectors, TOps.Count == 16 ? 16 : 8);
        for (var v = 0; v < vectors; v += group)
        {
            FirstPass<TVec, TOps>(ref src, ref dst, ref sgn, hasSigns, v, group);
        }

        // Remaining stages, stride counted in vectors, in increasing order.
        for (var stride = group; stride < vectors;)
        {
            var left = BitOperations.Log2((uint)(vectors / stride));
            if (left >= 3)
            {
                Radix8<TVec, TOps>(ref dst, vectors, stride);
                stride *= 8;
            }
            else if (left == 2)
            {
                Radix4<TVec, TOps>(ref dst, vectors, stride);
                stride *= 4;
            }
            else
            {
                Radix2<TVec, TOps>(ref dst, vectors, stride);
                stride *= 2;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec LoadFirst<TVec, TOps>(ref float src, ref ulong sgn, bool hasSigns, int vector)
        where TVec : struct
        where TOps : struct, ISimdFloatOps<TVec>
    {
        var offset = vector * TOps.Count;
        var value = TOps.Load(ref Unsafe.Add(ref src, offset));
        if (hasSigns)
        {
            // Count divides 64, so a vector's sign bits never straddle two words.
            var bits = (uint)(Unsafe.Add(ref sgn, offset >> 6) >> (offset & 63));
            value = TOps.ApplySigns(value, bits);
        }

        return TOps.InRegisterStages(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FirstPass<TVec, TOps>(ref float src, ref float dst, ref ulong sgn, bool hasSigns, int first, int group)
        where TVec : struct
        where TOps : struct, ISimdFloatOps<TVec>
    {
        var w = TOps.Count;
        ref var d = ref Unsafe.Add(ref dst, first * w);
        switch (group)
        {
            case 16:
                {
                    var v0 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first);
                    var v1 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 1);
                    var v2 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 2);
                    var v3 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 3);
                    var v4 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 4);
                    var v5 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 5);
                    var v6 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 6);
                    var v7 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 7);
                    var v8 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 8);
                    var v9 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 9);
                    var v10 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 10);
                    var v11 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 11);
                    var v12 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 12);
                    var v13 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 13);
                    var v14 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 14);
                    var v15 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 15);
                    Butterfly8<TVec, TOps>(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                    Butterfly8<TVec, TOps>(ref v8, ref v9, ref v10, ref v11, ref v12, ref v13, ref v14, ref v15);
                    Store8<TVec, TOps>(ref d, w, TOps.Add(v0, v8), TOps.Add(v1, v9), TOps.Add(v2, v10), TOps.Add(v3, v11),
                        TOps.Add(v4, v12), TOps.Add(v5, v13), TOps.Add(v6, v14), TOps.Add(v7, v15));
                    Store8<TVec, TOps>(ref Unsafe.Add(ref d, 8 * w), w, TOps.Subtract(v0, v8), TOps.Subtract(v1, v9), TOps.Subtract(v2, v10),
                        TOps.Subtract(v3, v11), TOps.Subtract(v4, v12), TOps.Subtract(v5, v13), TOps.Subtract(v6, v14), TOps.Subtract(v7, v15));
                    break;
                }

            case 8:
                {
                    var v0 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first);
                    var v1 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 1);
                    var v2 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 2);
                    var v3 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 3);
                    var v4 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 4);
                    var v5 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 5);
                    var v6 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 6);
                    var v7 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 7);
                    Butterfly8<TVec, TOps>(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                    Store8<TVec, TOps>(ref d, w, v0, v1, v2, v3, v4, v5, v6, v7);
                    break;
                }

            case 4:
                {
                    var v0 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first);
                    var v1 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 1);
                    var v2 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 2);
                    var v3 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 3);
                    Butterfly4<TVec, TOps>(ref v0, ref v1, ref v2, ref v3);
                    TOps.Store(v0, ref d);
                    TOps.Store(v1, ref Unsafe.Add(ref d, w));
                    TOps.Store(v2, ref Unsafe.Add(ref d, 2 * w));
                    TOps.Store(v3, ref Unsafe.Add(ref d, 3 * w));
                    break;
                }

            case 2:
                {
                    var v0 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first);
                    var v1 = LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first + 1);
                    TOps.Store(TOps.Add(v0, v1), ref d);
                    TOps.Store(TOps.Subtract(v0, v1), ref Unsafe.Add(ref d, w));
                    break;
                }

            default:
                TOps.Store(LoadFirst<TVec, TOps>(ref src, ref sgn, hasSigns, first), ref d);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Radix8<TVec, TOps>(ref float data, int vectors, int stride)
        where TVec : struct
        where TOps : struct, ISimdFloatOps<TVec>
    {
        var w = TOps.Count;
        var step = stride * w;
        for (var block = 0; block < vectors; block += 8 * stride)
        {
            for (var j = 0; j < stride; j++)
            {
                ref var p = ref Unsafe.Add(ref data, (block + j) * w);
                var v0 = TOps.Load(ref p);
                var v1 = TOps.Load(ref Unsafe.Add(ref p, step));
                var v2 = TOps.Load(ref Unsafe.Add(ref p, 2 * step));
                var v3 = TOps.Load(ref Unsafe.Add(ref p, 3 * step));
                var v4 = TOps.Load(ref Unsafe.Add(ref p, 4 * step));
                var v5 = TOps.Load(ref Unsafe.Add(ref p, 5 * step));
                var v6 = TOps.Load(ref Unsafe.Add(ref p, 6 * step));
                var v7 = TOps.Load(ref Unsafe.Add(ref p, 7 * step));
                Butterfly8<TVec, TOps>(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                Store8<TVec, TOps>(ref p, step, v0, v1, v2, v3, v4, v5, v6, v7);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Radix4<TVec, TOps>(ref float data, int vectors, int stride)
        where TVec : struct
        where TOps : struct, ISimdFloatOps<TVec>
    {
        var w = TOps.Count;
        var step = stride * w;
        for (var block = 0; block < vectors; block += 4 * stride)
        {
            for (var j = 0; j < stride; j++)
            {
                ref var p = ref Unsafe.Add(ref data, (block + j) * w);
                var v0 = TOps.Load(ref p);
                var v1 = TOps.Load(ref Unsafe.Add(ref p, step));
                var v2 = TOps.Load(ref Unsafe.Add(ref p, 2 * step));
                var v3 = TOps.Load(ref Unsafe.Add(ref p, 3 * step));
                Butterfly4<TVec, TOps>(ref v0, ref v1, ref v2, ref v3);
                TOps.Store(v0, ref p);
                TOps.Store(v1, ref Unsafe.Add(ref p, step));
                TOps.Store(v2, ref Unsafe.Add(ref p, 2 * step));
                TOps.Store(v3, ref Unsafe.Add(ref p, 3 * step));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Radix2<TVec, TOps>(ref float data, int vectors, int stride)
        where TVec : struct
        where TOps : struct, ISimdFloatOps<TVec>
    {
        var w = TOps.Count;
        var step = stride * w;
        for (var block = 0; block < vectors; block += 2 * stride)
        {
            for (var j = 0; j < stride; j++)
            {
                ref var p = ref Unsafe.Add(ref data, (block + j) * w);
                var v0 = TOps.Load(ref p);
                var v1 = TOps.Load(ref Unsafe.Add(ref p, step));
                TOps.Store(TOps.Add(v0, v1), ref p);
                TOps.Store(TOps.Subtract(v0, v1), ref Unsafe.Add(ref p, step));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Butterfly4<TVec, TOps>(ref TVec v0, ref TVec v1, ref TVec v2, ref TVec v3)
        where TVec : struct
        where TOps : struct, ISimdFloatOps<TVec>
    {
        var a0 = TOps.Add(v0, v1);
        var a1 = TOps.Subtract(v0, v1);
        var a2 = TOps.Add(v2, v3);
        var a3 = TOps.Subtract(v2, v3);
        v0 = TOps.Add(a0, a2);
        v2 = TOps.Subtract(a0, a2);
        v1 = TOps.Add(a1, a3);
        v3 = TOps.Subtract(a1, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Butterfly8<TVec, TOps>(
        ref TVec v0, ref TVec v1, ref TVec v2, ref TVec v3, ref TVec v4, ref TVec v5, ref TVec v6, ref TVec v7)
        where TVec : struct
        where TOps : struct, ISimdFloatOps<TVec>
    {
        Butterfly4<TVec, TOps>(ref v0, ref v1, ref v2, ref v3);
        Butterfly4<TVec, TOps>(ref v4, ref v5, ref v6, ref v7);
        var a0 = TOps.Add(v0, v4);
        var a4 = TOps.Subtract(v0, v4);
        var a1 = TOps.Add(v1, v5);
        var a5 = TOps.Subtract(v1, v5);
        var a2 = TOps.Add(v2, v6);
        var a6 = TOps.Subtract(v2, v6);
        var a3 = TOps.Add(v3, v7);
        var a7 = TOps.Subtract(v3, v7);
        (v0, v1, v2, v3, v4, v5, v6, v7) = (a0, a1, a2, a3, a4, a5, a6, a7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store8<TVec, TOps>(ref float p, int step, TVec v0, TVec v1, TVec v2, TVec v3, TVec v4, TVec v5, TVec v6, TVec v7)
        where TVec : struct
        where TOps : struct, ISimdFloatOps<TVec>
    {
        TOps.Store(v0, ref p);
        TOps.Store(v1, ref Unsafe.Add(ref p, step));
        TOps.Store(v2, ref Unsafe.Add(ref p, 2 * step));
        TOps.Store(v3, ref Unsafe.Add(ref p, 3 * step));
        TOps.Store(v4, ref Unsafe.Add(ref p, 4 * step));
        TOps.Store(v5, ref Unsafe.Add(ref p, 5 * step));
        TOps.Store(v6, ref Unsafe.Add(ref p, 6 * step));
        TOps.Store(v7, ref Unsafe.Add(ref p, 7 * step));
    }

    private static void CheckLength(int n)
    {
        if (n < 2 || n > MaxLength || !BitOperations.IsPow2(n))
        {
            ThrowBadLength(n);
        }
    }

    private static void ThrowBadLength(int n) =>
        throw new ArgumentException($"the transform length must be a power of two from 2 to {MaxLength}; got {n}", "data");
}
