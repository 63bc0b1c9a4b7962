using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LshCluster.Core.Kernels;
using LshCluster.Core.Vectors;

namespace LshCluster.Core.Hashing;

/// <summary>
/// Hashes vectors under an <see cref="LshScheme"/>: pseudo-random rotations <c>H D3 H D2 H D1</c> (fast
/// Walsh–Hadamard transforms and ±1 diagonals derived from the seed) of <c>x/|x| − μ</c>, zero-padded to d′ — k per
/// table for cross-polytope (index and sign of the largest coordinate) and hyperplane (signs of coordinates), or a
/// few shared by every table for sign bands (table t takes bits t·k … t·k + k − 1 of their signs). Thread-safe and
/// allocation-free per vector; results are bit-identical on every instruction set.
/// </summary>
[SkipLocalsInit]
public sealed class LshHasher
{
    private const int StackFloats = 2 * 4096;
    private const int SketchBits = 128;
    private const ulong SketchStream = ulong.MaxValue;
    private const ulong SharedStream = ulong.MaxValue - 1;

    private readonly LshScheme _scheme;
    private readonly int _padded;
    private readonly int _words;
    private readonly int _rotationsPerTable;
    private readonly ulong[] _signs;
    private readonly ulong[] _sketchSigns;
    private readonly float _rotationScale;

    /// <summary>Derives every rotation of <paramref name="scheme"/> from its seed.</summary>
    public LshHasher(LshScheme scheme)
    {
        _scheme = scheme ?? throw new ArgumentNullException(nameof(scheme));
        _padded = scheme.PaddedDimension;
        _words = Math.Max(1, _padded / 64);
        // Sign bands: one set of rotations (stream 2^64 − 2) shared by every table; the others: a set per table.
        var sets = scheme.Family == LshFamily.SignBands ? 1 : scheme.Tables;
        _rotationsPerTable = scheme.Family switch
        {
            LshFamily.CrossPolytope => scheme.HashesPerTable,
            LshFamily.Hyperplane => (scheme.HashesPerTable + _padded - 1) / _padded,
            _ => scheme.RotationsPerVector,
        };
        _signs = new ulong[sets * _rotationsPerTable * 3 * _words];
        for (var t = 0; t < sets; t++)
        {
            for (var r = 0; r < _rotationsPerTable; r++)
            {
                var stream = scheme.Family == LshFamily.SignBands ? SharedStream : (ulong)t;
                FillSigns(scheme.Seed, stream, r, _signs.AsSpan(SignOffset(t, r), 3 * _words));
            }
        }

        var sketchRotations = (SketchBits + _padded - 1) / _padded;
        _sketchSigns = new ulong[sketchRotations * 3 * _words];
        for (var r = 0; r < sketchRotations; r++)
        {
            FillSigns(scheme.Seed, SketchStream, r, _sketchSigns.AsSpan(r * 3 * _words, 3 * _words));
        }

        // Each unnormalised H multiplies norms by sqrt(d'); three of them by d'^1.5.
        _rotationScale = (float)Math.Pow(_padded, -1.5);
    }

    /// <summary>The scheme this hasher implements.</summary>
    public LshScheme Scheme => _scheme;

    /// <summary>L × k: the number of codes <see cref="ComputeCodes"/> writes.</summary>
    public int CodeCount => _scheme.Tables * _scheme.HashesPerTable;

    /// <summary>L × T: the number of keys <see cref="ComputeProbes"/> writes.</summary>
    public int ProbeCount => _scheme.Tables * _scheme.Probes;

    /// <summary>The L bucket keys of <paramref name="vector"/>, one per table.</summary>
    /// <exception cref="InvalidVectorException">Wrong dimension, a non-finite value, or a zero or overflowing norm.</exception>
    public void ComputeBucketKeys(ReadOnlySpan<float> vector, Span<ulong> keys) => Hash(vector, keys, default, default);

    /// <summary>
    /// The LSH codes of <paramref name="vector"/>, table-major: per table k rotation hashes in [0, 2d′)
    /// (cross-polytope) or k sign bits (hyperplane). Usable as features.
    /// </summary>
    public void ComputeCodes(ReadOnlySpan<float> vector, Span<int> codes) => Hash(vector, default, codes, default);

    /// <summary>
    /// The multiprobe sequence, table-major: per table the T most likely buckets of a near neighbour, most likely
    /// first (the first is the bucket key itself).
    /// </summary>
    public void ComputeProbes(ReadOnlySpan<float> vector, Span<ulong> probes) => Hash(vector, default, default, probes);

    /// <summary>
    /// Computes any of the bucket keys (L), codes (L × k) and probes (L × T) in one pass; pass an empty span for
    /// what is not wanted.
    /// </summary>
    /// <exception cref="ArgumentException">A non-empty output span is too short.</exception>
    /// <exception cref="InvalidVectorException">The vector is invalid.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Hash(ReadOnlySpan<float> vector, Span<ulong> keys, Span<int> codes, Span<ulong> probes)
    {
        var scheme = _scheme;
        CheckOutput(keys.Length, scheme.Tables, nameof(keys));
        CheckOutput(codes.Length, CodeCount, nameof(codes));
        CheckOutput(probes.Length, ProbeCount, nameof(probes));

        if (scheme.Family == LshFamily.SignBands)
        {
            HashSignBands(vector, keys, codes, probes);
            return;
        }

        if (scheme.Family == LshFamily.Learning)
        {
            // Every vector in the one bucket of the one table: a brute force while the plan is learned.
            VectorValidator.EnsureValid(vector, scheme.Dimension);
            var key = scheme.HyperplaneKey(0, 0);
            if (!keys.IsEmpty)
            {
                keys[0] = key;
            }

            if (!codes.IsEmpty)
            {
                codes[0] = 0;
            }

            if (!probes.IsEmpty)
            {
                probes[0] = key;
            }

            return;
        }

        float[]? rented = null;
        var scratch = _padded * 2 <= StackFloats
            ? Align64(stackalloc float[(_padded * 2) + 16])
            : (rented = ArrayPool<float>.Shared.Rent(_padded * 2));
        try
        {
            var x = scratch[.._padded];
            var y = scratch.Slice(_padded, _padded);
            Prepare(vector, x, centre: true);
            var k = scheme.HashesPerTable;
            Span<int> tableCodes = stackalloc int[64];
            tableCodes = tableCodes[..k];
            for (var t = 0; t < scheme.Tables; t++)
            {
                if (scheme.Family == LshFamily.CrossPolytope)
                {
                    HashCrossPolytopeTable(t, x, y, tableCodes, probes.IsEmpty ? default : probes.Slice(t * scheme.Probes, scheme.Probes));
                }
                else
                {
                    HashHyperplaneTable(t, x, y, tableCodes, probes.IsEmpty ? default : probes.Slice(t * scheme.Probes, scheme.Probes));
                }

                if (!keys.IsEmpty)
                {
                    keys[t] = scheme.BucketKey(t, tableCodes);
                }

                if (!codes.IsEmpty)
                {
                    tableCodes.CopyTo(codes[(t * k)..]);
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Sign bands: every shared rotation of the vector (into one buffer, d′ coordinates each), the pool of their sign
    /// bits, then per table its k bits as the key (and, with multiprobe, the squares of those coordinates as the cost of
    /// flipping each bit).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void HashSignBands(ReadOnlySpan<float> vector, Span<ulong> keys, Span<int> codes, Span<ulong> probes)
    {
        var scheme = _scheme;
        var rotations = _rotationsPerTable;
        var length = _padded * (rotations + 1);
        float[]? rented = null;
        var scratch = length <= StackFloats
            ? Align64(stackalloc float[length + 16])
            : (rented = ArrayPool<float>.Shared.Rent(length));
        try
        {
            var x = scratch[.._padded];
            var pool = scratch.Slice(_padded, _padded * rotations);
            Prepare(vector, x, centre: true);
            for (var r = 0; r < rotations; r++)
            {
                Rotate(x, pool.Slice(r * _padded, _padded), _signs.AsSpan(SignOffset(0, r), 3 * _words));
            }

            Span<ulong> signs = stackalloc ulong[(pool.Length + 63) / 64];
            SignWords(pool, signs);
            var k = scheme.HashesPerTable;
            var t = scheme.Probes;
            Span<float> margins = stackalloc float[t > 1 ? k : 0];
            for (var table = 0; table < scheme.Tables; table++)
            {
                var first = table * k;
                var bits = BitsAt(signs, first, k);
                if (!keys.IsEmpty)
                {
                    keys[table] = scheme.HyperplaneKey(table, bits);
                }

                if (!codes.IsEmpty)
                {
                    for (var j = 0; j < k; j++)
                    {
                        codes[first + j] = (int)((bits >> j) & 1);
                    }
                }

                if (probes.IsEmpty)
                {
                    continue;
                }

                if (t == 1)
                {
                    probes[table] = scheme.HyperplaneKey(table, bits);
                }
                else
                {
                    var band = pool.Slice(first, k);
                    for (var j = 0; j < k; j++)
                    {
                        margins[j] = band[j] * band[j];
                    }

                    Multiprobe.HyperplaneProbes(scheme, table, bits, margins, probes.Slice(table * t, t));
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Bit i of the result is the sign bit of <paramref name="values"/>[i] (exact on every path).</summary>
    private static void SignWords(ReadOnlySpan<float> values, Span<ulong> words)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 64 <= values.Length; i += 64)
            {
                ulong word = 0;
                for (var lane = 0; lane < 64; lane += 8)
                {
                    word |= (ulong)Vector256.Create(values.Slice(i + lane, 8)).ExtractMostSignificantBits() << lane;
                }

                words[i >> 6] = word;
            }
        }

        for (; i < values.Length; i += 64)
        {
            words[i >> 6] = SignBits(values.Slice(i, Math.Min(64, values.Length - i)));
        }
    }

    /// <summary>Bits <paramref name="first"/> … <paramref name="first"/> + <paramref name="count"/> − 1 of <paramref name="words"/>, low bit first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong BitsAt(ReadOnlySpan<ulong> words, int first, int count)
    {
        var shift = first & 63;
        var bits = words[first >> 6] >> shift;
        if (shift + count > 64)
        {
            bits |= words[(first >> 6) + 1] << (64 - shift);
        }

        return count == 64 ? bits : bits & ((1UL << count) - 1);
    }

    /// <summary>
    /// 128 sign bits of dedicated rotations of <c>x/|x|</c> (never centred, so the Hamming distance estimates the
    /// true angle).
    /// </summary>
    public Sketch128 ComputeSketch(ReadOnlySpan<float> vector) => ComputeSketch(vector, default);

    /// <summary>The length of the projection <see cref="ComputeSketch(ReadOnlySpan{float}, Span{float})"/> writes: min(64, d′).</summary>
    public int ProjectionLength => Math.Min(64, _padded);

    /// <summary>
    /// The 128-bit sketch, and in <paramref name="projection"/> (empty, or <see cref="ProjectionLength"/> values) the
    /// first coordinates of the sketch's first rotation of <c>x/|x|</c>: a Johnson–Lindenstrauss projection whose
    /// cosine estimates the true one with a standard deviation of about (1 − c²)/√m, tight near duplicates, so a
    /// verifier can reject far candidates without touching their full vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Sketch128 ComputeSketch(ReadOnlySpan<float> vector, Span<float> projection)
    {
        if (!projection.IsEmpty && projection.Length != ProjectionLength)
        {
            throw new ArgumentException($"projection must hold {ProjectionLength} values; got {projection.Length}", nameof(projection));
        }

        float[]? rented = null;
        var scratch = _padded * 2 <= StackFloats
            ? Align64(stackalloc float[(_padded * 2) + 16])
            : (rented = ArrayPool<float>.Shared.Rent(_padded * 2));
        try
        {
            var x = scratch[.._padded];
            var y = scratch.Slice(_padded, _padded);
            Prepare(vector, x, centre: false);
            UInt128 bits = 0;
            var filled = 0;
            for (var r = 0; filled < SketchBits; r++)
            {
                Rotate(x, y, _sketchSigns.AsSpan(r * 3 * _words, 3 * _words));
                if (r == 0 && !projection.IsEmpty)
                {
                    y[..projection.Length].CopyTo(projection);
                }
                var take = Math.Min(_padded, SketchBits - filled);
                bits |= (UInt128)SignBits(y[..Math.Min(take, 64)]) << filled;
                if (take > 64)
                {
                    bits |= (UInt128)SignBits(y.Slice(64, take - 64)) << (filled + 64);
                }

                filled += take;
            }

            return new Sketch128((ulong)bits, (ulong)(bits >> 64));
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Applies rotation <paramref name="rotation"/> of table <paramref name="table"/> to <paramref name="input"/>
    /// as given (zero-padded, neither normalised nor centred) and scales by d′^−1.5 so that norms are preserved.
    /// For tests and for users who want the rotated coordinates.
    /// </summary>
    /// <param name="input">At most d′ values.</param>
    /// <param name="table">0 … L − 1 (sign bands: every table has the same rotations).</param>
    /// <param name="rotation">0 … rotations per table − 1 (sign bands: shared rotations − 1).</param>
    /// <param name="output">d′ values.</param>
    public void Rotate(ReadOnlySpan<float> input, int table, int rotation, Span<float> output)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(input.Length, _padded, nameof(input));
        ArgumentOutOfRangeException.ThrowIfNotEqual(output.Length, _padded, nameof(output));
        ArgumentOutOfRangeException.ThrowIfNegative(table);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(table, _scheme.Tables);
        ArgumentOutOfRangeException.ThrowIfNegative(rotation);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rotation, _rotationsPerTable);
        var padded = new float[_padded];
        input.CopyTo(padded);
        var set = _scheme.Family == LshFamily.SignBands ? 0 : table; // sign bands: every table shares the rotations
        Rotate(padded, output, _signs.AsSpan(SignOffset(set, rotation), 3 * _words));
        foreach (ref var v in output)
        {
            v *= _rotationScale;
        }
    }

    private int SignOffset(int table, int rotation) => ((table * _rotationsPerTable) + rotation) * 3 * _words;

    private void FillSigns(ulong seed, ulong stream, int rotation, Span<ulong> destination)
    {
        for (var diagonal = 0; diagonal < 3; diagonal++)
        {
            var rng = SplitMix64.ForStream(seed, stream, (ulong)rotation, (ulong)diagonal);
            var words = destination.Slice(diagonal * _words, _words);
            for (var w = 0; w < words.Length; w++)
            {
                words[w] = rng.Next();
            }

            if (_padded < 64)
            {
                words[0] &= (1UL << _padded) - 1;
            }
        }
    }

    /// <summary>x ← x/|x| (− μ), zero-padded. Element-wise, so identical on every path.</summary>
    private void Prepare(ReadOnlySpan<float> vector, Span<float> x, bool centre)
    {
        var d = _scheme.Dimension;
        if (vector.Length != d)
        {
            VectorValidator.EnsureValid(vector, d);
        }

        var squaredNorm = VectorMath.SquaredNorm(vector);
        if (!(squaredNorm > 0) || float.IsInfinity(squaredNorm))
        {
            VectorValidator.EnsureValid(vector, d);
        }

        var inverse = 1f / MathF.Sqrt(squaredNorm);
        var scale = new Vector<float>(inverse);
        var i = 0;
        var center = _scheme.CenterSpan;
        if (centre && !center.IsEmpty)
        {
            for (; i <= d - Vector<float>.Count; i += Vector<float>.Count)
            {
                (new Vector<float>(vector[i..]) * scale - new Vector<float>(center[i..])).CopyTo(x[i..]);
            }

            for (; i < d; i++)
            {
                x[i] = (vector[i] * inverse) - center[i];
            }
        }
        else
        {
            for (; i <= d - Vector<float>.Count; i += Vector<float>.Count)
            {
                (new Vector<float>(vector[i..]) * scale).CopyTo(x[i..]);
            }

            for (; i < d; i++)
            {
                x[i] = vector[i] * inverse;
            }
        }

        // Finite input with a finite, non-zero norm gives values within [−1, 1] (minus a finite μ): no re-check.
        x[d..].Clear();
    }

    /// <summary>y ← H D3 H D2 H D1 x (unscaled).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Rotate(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<ulong> signs)
    {
        FastHadamard.Transform(x, y, signs[.._words]);
        FastHadamard.Transform(y, y, signs.Slice(_words, _words));
        FastHadamard.Transform(y, y, signs.Slice(2 * _words, _words));
    }

    private void HashCrossPolytopeTable(int table, ReadOnlySpan<float> x, Span<float> y, Span<int> codes, Span<ulong> probes)
    {
        var k = codes.Length;
        var t = probes.Length;
        Span<int> altCodes = stackalloc int[t > 1 ? k * t : 0];
        Span<float> altCosts = stackalloc float[t > 1 ? k * t : 0];
        Span<int> altCounts = stackalloc int[t > 1 ? k : 0];
        for (var r = 0; r < k; r++)
        {
            Rotate(x, y, _signs.AsSpan(SignOffset(table, r), 3 * _words));
            var m = r == k - 1 ? _scheme.LastRotationDimension : _padded;
            var used = y[..m];
            var i = ArgMax.OfAbsolute(used);
            codes[r] = IsNegative(used[i]) ? i + m : i;
            if (t > 1)
            {
                altCounts[r] = Multiprobe.TopCrossPolytopeAlternatives(used, altCodes.Slice(r * t, t), altCosts.Slice(r * t, t));
            }
        }

        if (t == 1)
        {
            probes[0] = _scheme.BucketKey(table, codes);
        }
        else if (t > 1)
        {
            Multiprobe.CrossPolytopeProbes(_scheme, table, altCodes, altCosts, altCounts, probes);
        }
    }

    private void HashHyperplaneTable(int table, ReadOnlySpan<float> x, Span<float> y, Span<int> codes, Span<ulong> probes)
    {
        var k = codes.Length;
        var t = probes.Length;
        Span<float> margins = stackalloc float[t > 1 ? k : 0];
        ulong bits = 0;
        for (var r = 0; r * _padded < k; r++)
        {
            Rotate(x, y, _signs.AsSpan(SignOffset(table, r), 3 * _words));
            var first = r * _padded;
            var take = Math.Min(_padded, k - first);
            for (var j = 0; j < take; j++)
            {
                var negative = IsNegative(y[j]);
                codes[first + j] = negative ? 1 : 0;
                bits |= (negative ? 1UL : 0UL) << (first + j);
                if (t > 1)
                {
                    margins[first + j] = y[j] * y[j];
                }
            }
        }

        if (t == 1)
        {
            probes[0] = _scheme.HyperplaneKey(table, bits);
        }
        else if (t > 1)
        {
            Multiprobe.HyperplaneProbes(_scheme, table, bits, margins, probes);
        }
    }

    /// <summary>
    /// Starts the scratch at a 64-byte boundary: a 512-bit load or store that straddles two cache lines costs two,
    /// and measured here misaligned buffers made the 1024-point transform about 40 % slower. Stack memory never
    /// moves, so its address is stable.
    /// </summary>
    private static unsafe Span<float> Align64(Span<float> buffer)
    {
        var address = (nuint)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(buffer));
        var skip = (int)(((64 - (address & 63)) & 63) / sizeof(float));
        return buffer[skip..(buffer.Length - 16 + skip)];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsNegative(float value) => BitConverter.SingleToInt32Bits(value) < 0;

    private static ulong SignBits(ReadOnlySpan<float> values)
    {
        ulong bits = 0;
        for (var i = 0; i < values.Length; i++)
        {
            bits |= (IsNegative(values[i]) ? 1UL : 0UL) << i;
        }

        return bits;
    }

    private static void CheckOutput(int length, int needed, string name)
    {
        if (length != 0 && length < needed)
        {
            throw new ArgumentException($"{name} must hold {needed} values; got {length}", name);
        }
    }
}
