using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LshCluster.Core.Kernels;

/// <summary>
/// The handful of vector operations the kernels need, abstracted over the register width so that one generic
/// kernel body serves 512-, 256- and 128-bit paths. Implementations are structs: the JIT specialises each generic
/// instantiation and inlines these calls, so the abstraction costs nothing.
/// </summary>
/// <typeparam name="TVec">The hardware vector type.</typeparam>
internal interface ISimdFloatOps<TVec>
    where TVec : struct
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    static abstract TVec Load(ref float source);

    static abstract void Store(TVec value, ref float destination);

    static abstract TVec Add(TVec a, TVec b);

    static abstract TVec Subtract(TVec a, TVec b);

    static abstract TVec Multiply(TVec a, TVec b);

    /// <summary>
    /// All Walsh–Hadamard butterfly stages whose stride is below the lane count, done inside the register:
    /// stage h computes <c>y[i] = x[i ^ h] + (bit h of i clear ? x[i] : -x[i])</c>, in increasing h, exactly the
    /// additions and subtractions of the scalar reference in the same order.
    /// </summary>
    static abstract TVec InRegisterStages(TVec value);

    /// <summary>
    /// Flips the sign of lane j when bit j of <paramref name="signBits"/> is set (multiplication by a ±1
    /// diagonal; an exact operation).
    /// </summary>
    static abstract TVec ApplySigns(TVec value, uint signBits);

    /// <summary>Sums the lanes in the fixed tree order of <see cref="VectorMath"/>: lane j with lane j + Count/2, and so on.</summary>
    static abstract float SumTree(TVec value);
}

/// <summary>512-bit operations (AVX-512).</summary>
internal readonly struct Simd512 : ISimdFloatOps<Vector512<float>>
{
    public static int Count => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source) => Vector512.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> InRegisterStages(Vector512<float> v)
    {
        // x * (±1) is exact, so the fused multiply-add rounds once, like the scalar a + b or a - b.
        v = Vector512.FusedMultiplyAdd(v, Vector512.Create(1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f),
            Vector512.Shuffle(v, Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)));
        v = Vector512.FusedMultiplyAdd(v, Vector512.Create(1f, 1f, -1f, -1f, 1f, 1f, -1f, -1f, 1f, 1f, -1f, -1f, 1f, 1f, -1f, -1f),
            Vector512.Shuffle(v, Vector512.Create(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)));
        v = Vector512.FusedMultiplyAdd(v, Vector512.Create(1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f, 1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f),
            SwapPairsOf128(v));
        v = Vector512.FusedMultiplyAdd(v, Vector512.Create(1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f, -1f, -1f, -1f, -1f),
            SwapHalves(v));
        return v;
    }

    // Cross-lane strides use vshuff32x4 with an immediate: the JIT turns a general Vector512.Shuffle into vpermps,
    // whose latency made the in-register stages 2.5x slower on Zen 5.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SwapPairsOf128(Vector512<float> v) =>
        Avx512F.IsSupported ? Avx512F.Shuffle4x128(v, v, 0b10_11_00_01)
            : Vector512.Shuffle(v, Vector512.Create(4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SwapHalves(Vector512<float> v) =>
        Avx512F.IsSupported ? Avx512F.Shuffle4x128(v, v, 0b01_00_11_10)
            : Vector512.Shuffle(v, Vector512.Create(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ApplySigns(Vector512<float> value, uint signBits)
    {
        // Shift bit j of the mask into the sign bit of lane j: one variable shift and an and, no compare-to-mask
        // round trip (which cost ~1.7 ns per vector, a third of the 1024-point transform).
        if (Avx512F.IsSupported)
        {
            var shifts = Vector512.Create(31u, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16);
            var shifted = Avx512F.ShiftLeftLogicalVariable(Vector512.Create(signBits), shifts);

            // value ^ (shifted & 0x80000000) in one vpternlogd (truth table 0x78); the JIT does not fuse the pair.
            return Avx512F.TernaryLogic(value.AsUInt32(), shifted, Vector512.Create(0x8000_0000u), 0x78).AsSingle();
        }

        var laneBits = Vector512.Create(1u, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);
        var selected = Vector512.Equals(Vector512.Create(signBits) & laneBits, laneBits);
        return (value.AsUInt32() ^ (selected & Vector512.Create(0x8000_0000u))).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumTree(Vector512<float> value) =>
        Simd256.SumTree(value.GetLower() + value.GetUpper());
}

/// <summary>256-bit operations (AVX2).</summary>
internal readonly struct Simd256 : ISimdFloatOps<Vector256<float>>
{
    public static int Count => 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref float source) => Vector256.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref float destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> InRegisterStages(Vector256<float> v)
    {
        // Multiplying by ±1 is exact, so perm + v * sign rounds once, like the scalar a + b or a - b.
        v = Vector256.Shuffle(v, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)) + v * Vector256.Create(1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f);
        v = Vector256.Shuffle(v, Vector256.Create(2, 3, 0, 1, 6, 7, 4, 5)) + v * Vector256.Create(1f, 1f, -1f, -1f, 1f, 1f, -1f, -1f);
        var halvesSwapped = Avx.IsSupported ? Avx.Permute2x128(v, v, 0x01) : Vector256.Shuffle(v, Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3));
        v = halvesSwapped + v * Vector256.Create(1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ApplySigns(Vector256<float> value, uint signBits)
    {
        if (Avx2.IsSupported)
        {
            var flips = Avx2.ShiftLeftLogicalVariable(Vector256.Create(signBits), Vector256.Create(31u, 30, 29, 28, 27, 26, 25, 24)) & Vector256.Create(0x8000_0000u);
            return (value.AsUInt32() ^ flips).AsSingle();
        }

        var laneBits = Vector256.Create(1u, 2, 4, 8, 16, 32, 64, 128);
        var selected = Vector256.Equals(Vector256.Create(signBits) & laneBits, laneBits);
        return (value.AsUInt32() ^ (selected & Vector256.Create(0x8000_0000u))).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumTree(Vector256<float> value) =>
        Simd128.SumTree(value.GetLower() + value.GetUpper());
}

/// <summary>128-bit operations (SSE / AdvSimd).</summary>
internal readonly struct Simd128 : ISimdFloatOps<Vector128<float>>
{
    public static int Count => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref float source) => Vector128.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref float destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> InRegisterStages(Vector128<float> v)
    {
        v = Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2)) + v * Vector128.Create(1f, -1f, 1f, -1f);
        v = Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)) + v * Vector128.Create(1f, 1f, -1f, -1f);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ApplySigns(Vector128<float> value, uint signBits)
    {
        var laneBits = Vector128.Create(1u, 2, 4, 8);
        var selected = Vector128.Equals(Vector128.Create(signBits) & laneBits, laneBits);
        return (value.AsUInt32() ^ (selected & Vector128.Create(0x8000_0000u))).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumTree(Vector128<float> value)
    {
        // Lane j + lane j+2, then lane 0 + lane 1: the same tree as the scalar reference.
        var pairs = value + Vector128.Shuffle(value, Vector128.Create(2, 3, 0, 1));
        return pairs.ToScalar() + pairs.GetElement(1);
    }
}
