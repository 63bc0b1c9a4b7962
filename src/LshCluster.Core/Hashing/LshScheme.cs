using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;

namespace LshCluster.Core.Hashing;

/// <summary>
/// A cluster's hashing configuration: family, dimension, rotations per table, tables, probes, seed, optional
/// centring vector, threshold ladder and shard count. Fixed when a cluster is created, persisted, and fetched by
/// every client; two parties hash compatibly exactly when their schemes have the same <see cref="Fingerprint"/>.
/// The layout of keys and the persisted form are fixed by docs/adr/0001-hash-scheme.md.
/// </summary>
public sealed class LshScheme : IEquatable<LshScheme>
{
    /// <summary>
    /// The newest persisted form this build reads and writes. A scheme is written in the oldest version that can hold it:
    /// version 1 for cross-polytope and hyperplane (so stores created before version 2 keep their bytes and their
    /// fingerprint), version 2 for sign bands (<see cref="LshFamily.SignBands"/>), version 3 for a learning scheme
    /// (<see cref="LshFamily.Learning"/>), which adds its <see cref="LearningPlan"/>.
    /// </summary>
    public const ushort FormatVersion = 3;

    /// <summary>Largest supported dimension.</summary>
    public const int MaxDimension = 1 << 16;

    /// <summary>Most hash tables.</summary>
    public const int MaxTables = 1024;

    /// <summary>Most probes per table.</summary>
    public const int MaxProbes = 256;

    /// <summary>Bits of a cross-polytope bucket key that hold the last rotation's hash (so the shard can ignore it).</summary>
    internal const int LastHashBits = 18;

    private const uint Magic = 0x5348534C; // "LSHS" little-endian

    // Version 3's learning plan: N, recall, max probes, expected vectors, max bytes per vector (NaN: none).
    private const int LearningBytes = 4 + 8 + 4 + 8 + 8;

    private readonly float[] _rungs;
    private readonly float[]? _center;
    private readonly LearningPlan? _learning;

    /// <summary>Creates and validates a scheme.</summary>
    /// <param name="family">The hash family.</param>
    /// <param name="dimension">Values per vector, 1 … 65536.</param>
    /// <param name="hashesPerTable">k: rotations per table (cross-polytope, 1 … 8) or sign bits per table (hyperplane, 1 … 64).</param>
    /// <param name="tables">L, 1 … 1024.</param>
    /// <param name="seed">Seed of every pseudo-random choice.</param>
    /// <param name="rungs">Similarity thresholds, strictly decreasing, each in (0, 1].</param>
    /// <param name="shardCount">S, 1 … 65536.</param>
    /// <param name="probes">T, the buckets probed per table on lookup, 1 … 256.</param>
    /// <param name="lastRotationDimension">
    /// Cross-polytope only: the last rotation's argmax looks at this many leading coordinates (a power of two, at
    /// most the padded dimension; 0 means the padded dimension). FALCONN's <c>last_cp_dimension</c>.
    /// </param>
    /// <param name="center">Optional centring vector μ of length <paramref name="dimension"/>: hashing uses x/|x| − μ.</param>
    /// <param name="learning">
    /// <see cref="LshFamily.Learning"/> only, and required there: what to plan with once learned (see <see cref="ForLearning"/>).
    /// </param>
    /// <exception cref="ArgumentException">A parameter is out of range; the message names it.</exception>
    public LshScheme(
        LshFamily family,
        int dimension,
        int hashesPerTable,
        int tables,
        ulong seed,
        IReadOnlyList<float> rungs,
        int shardCount = 1024,
        int probes = 1,
        int lastRotationDimension = 0,
        IReadOnlyList<float>? center = null,
        LearningPlan? learning = null)
    {
        if (family is not (LshFamily.CrossPolytope or LshFamily.Hyperplane or LshFamily.SignBands or LshFamily.Learning))
        {
            throw new ArgumentException($"family: unknown value {(int)family}", nameof(family));
        }

        if (family == LshFamily.Learning)
        {
            // One bucket of one table holds every vector: nothing to choose until the plan is learned.
            Require(learning is not null, nameof(learning), "a learning scheme needs what to plan with once learned");
            Require(learning!.Problem() is null, nameof(learning), learning.Problem() ?? string.Empty);
            Require(hashesPerTable == 1 && tables == 1 && probes == 1, nameof(tables), "a learning scheme has one table of one hash and one probe");
            Require(center is null, nameof(center), "a learning scheme is not centred (the centre is learned)");
        }
        else
        {
            Require(learning is null, nameof(learning), "applies to a learning scheme only");
        }

        Require(dimension is >= 1 and <= MaxDimension, nameof(dimension), $"must be 1 … {MaxDimension}; got {dimension}");
        var padded = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(dimension, 2));
        var maxK = family == LshFamily.CrossPolytope ? 8 : 64;
        Require(hashesPerTable >= 1 && hashesPerTable <= maxK, nameof(hashesPerTable), $"must be 1 … {maxK} for {family}; got {hashesPerTable}");
        Require(tables is >= 1 and <= MaxTables, nameof(tables), $"must be 1 … {MaxTables}; got {tables}");
        Require(probes is >= 1 and <= MaxProbes, nameof(probes), $"must be 1 … {MaxProbes}; got {probes}");
        Require(shardCount is >= 1 and <= 65536, nameof(shardCount), $"must be 1 … 65536; got {shardCount}");
        if (family != LshFamily.CrossPolytope)
        {
            Require(lastRotationDimension == 0 || lastRotationDimension == padded, nameof(lastRotationDimension), "applies to cross-polytope only");
        }

        var last = lastRotationDimension == 0 ? padded : lastRotationDimension;
        Require(last >= 1 && last <= padded && BitOperations.IsPow2(last), nameof(lastRotationDimension),
            $"must be a power of two from 1 to the padded dimension {padded}; got {lastRotationDimension}");

        ArgumentNullException.ThrowIfNull(rungs);
        Require(rungs.Count is >= 1 and <= 16, nameof(rungs), $"need 1 … 16 thresholds; got {rungs.Count}");
        for (var i = 0; i < rungs.Count; i++)
        {
            var r = rungs[i];
            Require(float.IsFinite(r) && r > 0 && r <= 1, nameof(rungs), $"threshold {r.ToString(CultureInfo.InvariantCulture)} is not in (0, 1]");
            Require(i == 0 || r < rungs[i - 1], nameof(rungs), "thresholds must be strictly decreasing, e.g. 0.99,0.98,0.95");
        }

        if (center is not null)
        {
            Require(center.Count == dimension, nameof(center), $"must have {dimension} values; got {center.Count}");
            for (var i = 0; i < center.Count; i++)
            {
                Require(float.IsFinite(center[i]), nameof(center), $"center[{i}] is not finite");
            }

            _center = [.. center];
        }

        Family = family;
        Dimension = dimension;
        PaddedDimension = padded;
        HashesPerTable = hashesPerTable;
        Tables = tables;
        Seed = seed;
        _rungs = [.. rungs];
        ShardCount = shardCount;
        Probes = probes;
        LastRotationDimension = last;
        _learning = learning;
        Fingerprint = ComputeFingerprint(ToBytes());
    }

    /// <summary>The hash family.</summary>
    public LshFamily Family { get; }

    /// <summary>d: values per vector.</summary>
    public int Dimension { get; }

    /// <summary>d′ = the next power of two ≥ d (at least 2): vectors are zero-padded to it before rotating.</summary>
    public int PaddedDimension { get; }

    /// <summary>k: rotations per table (cross-polytope) or sign bits per table (hyperplane, sign bands).</summary>
    public int HashesPerTable { get; }

    /// <summary>
    /// The rotations one vector's hash takes: k per table for cross-polytope, ⌈k / d′⌉ per table for hyperplane,
    /// ⌈L·k / d′⌉ in all for sign bands.
    /// </summary>
    public int RotationsPerVector => Family switch
    {
        LshFamily.CrossPolytope => Tables * HashesPerTable,
        LshFamily.Hyperplane => Tables * ((HashesPerTable + PaddedDimension - 1) / PaddedDimension),
        LshFamily.SignBands => ((Tables * HashesPerTable) + PaddedDimension - 1) / PaddedDimension,
        _ => 0,
    };

    /// <summary>The persisted form's version: the oldest that holds the family (see <see cref="FormatVersion"/>).</summary>
    public ushort Version => VersionOf(Family);

    /// <summary>Whether the cluster is still learning its hashing (<see cref="LshFamily.Learning"/>): every insert is a brute force.</summary>
    public bool IsLearning => Family == LshFamily.Learning;

    /// <summary>A learning scheme's plan (what it plans with once it has learned), or null for a fixed scheme.</summary>
    public LearningPlan? Learning => _learning;

    /// <summary>
    /// The scheme of a cluster created without a sample (ADR 0009): its routing part — dimension, rungs, shards and seed,
    /// which decide where data lives and the sketches — fixed now; its hashing learned from its first
    /// <see cref="LearningPlan.LearnFrom"/> vectors and planned as <paramref name="plan"/> asks.
    /// </summary>
    /// <exception cref="ArgumentException">A parameter is out of range; the message names it.</exception>
    public static LshScheme ForLearning(int dimension, IReadOnlyList<float> rungs, LearningPlan plan, int shardCount = 1024, ulong seed = DefaultSeed) =>
        new(LshFamily.Learning, dimension, 1, 1, seed, rungs, shardCount, learning: plan ?? throw new ArgumentNullException(nameof(plan)));

    /// <summary>The seed the planner gives a scheme unless told otherwise.</summary>
    public const ulong DefaultSeed = 0x4C534843_6C757374UL;

    private static ushort VersionOf(LshFamily family) => family switch
    {
        LshFamily.SignBands => 2,
        LshFamily.Learning => 3,
        _ => 1,
    };

    /// <summary>L: the number of hash tables.</summary>
    public int Tables { get; }

    /// <summary>T: buckets probed per table on lookup (1 = no multiprobe).</summary>
    public int Probes { get; }

    /// <summary>The seed of every pseudo-random choice.</summary>
    public ulong Seed { get; }

    /// <summary>S: the number of virtual shards.</summary>
    public int ShardCount { get; }

    /// <summary>Cross-polytope: the coordinates the last rotation's argmax considers; equals d′ when unused.</summary>
    public int LastRotationDimension { get; }

    /// <summary>Thresholds, strictly decreasing; rung 0 is the highest.</summary>
    public IReadOnlyList<float> Rungs => _rungs;

    /// <summary>The index of rung <paramref name="rung"/> (null: the highest), or an error naming the known rungs.</summary>
    /// <exception cref="ArgumentException">The scheme has no such rung.</exception>
    public int RungIndex(float? rung)
    {
        if (rung is null)
        {
            return 0;
        }

        for (var r = 0; r < _rungs.Length; r++)
        {
            if (Math.Abs(_rungs[r] - rung.Value) < 1e-6f)
            {
                return r;
            }
        }

        throw new ArgumentException($"rung: {rung.Value} is not a rung of this cluster; its rungs are {string.Join(", ", _rungs)}", nameof(rung));
    }

    /// <summary>The lowest threshold: verified edges need at least this cosine.</summary>
    public float LowestRung => _rungs[^1];

    /// <summary>The centring vector, or null.</summary>
    public IReadOnlyList<float>? Center => _center;

    /// <summary>A 64-bit digest of the persisted form: equal schemes, equal fingerprints.</summary>
    public ulong Fingerprint { get; }

    internal ReadOnlySpan<float> CenterSpan => _center;

    /// <summary>
    /// The bucket key of table <paramref name="table"/> from its k codes: cross-polytope, rotation hashes in
    /// [0, 2d′) (the last in [0, 2·<see cref="LastRotationDimension"/>)); hyperplane and sign bands, sign bits 0 or 1.
    /// </summary>
    public ulong BucketKey(int table, ReadOnlySpan<int> codes)
    {
        if (Family != LshFamily.CrossPolytope) // hyperplane, sign bands, and learning's one code 0
        {
            ulong bits = 0;
            for (var i = 0; i < codes.Length; i++)
            {
                bits |= (ulong)(codes[i] & 1) << i;
            }

            return HyperplaneKey(table, bits);
        }

        var acc = TableSeed(table);

        if (HashesPerTable == 1)
        {
            return Mix64.Combine(acc, (uint)codes[0]);
        }

        for (var r = 0; r < codes.Length - 1; r++)
        {
            acc = Mix64.Combine(acc, (uint)codes[r]);
        }

        // The last rotation's hash sits in the low bits so that probes varying it share the prefix, hence the shard.
        return (acc & ~((1UL << LastHashBits) - 1)) | (uint)codes[^1];
    }

    /// <summary>The bucket key of a hyperplane table from its packed sign bits (bit i = code i).</summary>
    internal ulong HyperplaneKey(int table, ulong bits) => Mix64.Combine(TableSeed(table), bits);

    private static ulong TableSeed(int table) => Mix64.Combine(0x4C534842UL, (ulong)table);

    /// <summary>The shard that owns bucket <paramref name="key"/> of table <paramref name="table"/>.</summary>
    public int ShardOfBucket(int table, ulong key)
    {
        var routed = Family == LshFamily.CrossPolytope && HashesPerTable > 1 ? key >> LastHashBits : key;
        return Mix64.Reduce(Mix64.Combine((ulong)table, routed), ShardCount);
    }

    /// <summary>The home shard of an external id: where the vector and its verdict are stored.</summary>
    public int HomeShard(ReadOnlySpan<char> externalId) => Mix64.Reduce(Mix64.HashString(externalId), ShardCount);

    /// <summary>The versioned persisted form (little-endian; see the ADR for the layout).</summary>
    public byte[] ToBytes()
    {
        var size = 4 + 2 + 1 + (4 * 6) + 8 + 4 + (4 * _rungs.Length) + 1 + (4 * (_center?.Length ?? 0)) + (_learning is null ? 0 : LearningBytes) + 8;
        var buffer = new byte[size];
        var span = buffer.AsSpan();
        var o = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(span[o..], Magic);
        o += 4;
        BinaryPrimitives.WriteUInt16LittleEndian(span[o..], Version);
        o += 2;
        span[o++] = (byte)Family;
        foreach (var value in (ReadOnlySpan<int>)[Dimension, HashesPerTable, LastRotationDimension, Tables, Probes, ShardCount])
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[o..], value);
            o += 4;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(span[o..], Seed);
        o += 8;
        BinaryPrimitives.WriteInt32LittleEndian(span[o..], _rungs.Length);
        o += 4;
        foreach (var r in _rungs)
        {
            BinaryPrimitives.WriteSingleLittleEndian(span[o..], r);
            o += 4;
        }

        span[o++] = _center is null ? (byte)0 : (byte)1;
        foreach (var c in _center ?? [])
        {
            BinaryPrimitives.WriteSingleLittleEndian(span[o..], c);
            o += 4;
        }

        if (_learning is { } plan)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[o..], plan.LearnFrom);
            BinaryPrimitives.WriteDoubleLittleEndian(span[(o + 4)..], plan.Recall);
            BinaryPrimitives.WriteInt32LittleEndian(span[(o + 12)..], plan.MaxProbes);
            BinaryPrimitives.WriteInt64LittleEndian(span[(o + 16)..], plan.ExpectedVectors);
            BinaryPrimitives.WriteDoubleLittleEndian(span[(o + 24)..], plan.MaxBytesPerVector ?? double.NaN);
            o += LearningBytes;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(span[o..], Checksum(span[..o]));
        return buffer;
    }

    /// <summary>Reads the persisted form.</summary>
    /// <exception cref="FormatException">Not a scheme, an unknown version, truncated or corrupted.</exception>
    public static LshScheme FromBytes(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4 + 2 + 8 || BinaryPrimitives.ReadUInt32LittleEndian(data) != Magic)
        {
            throw new FormatException("not an LSH scheme: the magic bytes 'LSHS' are missing");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
        if (version is < 1 or > FormatVersion)
        {
            throw new FormatException($"LSH scheme format version {version} is not supported (this build reads versions 1 to {FormatVersion}); a newer build created it");
        }

        var body = data[..^8];
        if (Checksum(body) != BinaryPrimitives.ReadUInt64LittleEndian(data[^8..]))
        {
            throw new FormatException("LSH scheme is corrupted: its checksum does not match");
        }

        try
        {
            var o = 6;
            var family = (LshFamily)body[o++];
            if (VersionOf(family) != version)
            {
                throw new FormatException($"LSH scheme of family {family} cannot be format version {version}");
            }

            var ints = new int[6];
            for (var i = 0; i < ints.Length; i++, o += 4)
            {
                ints[i] = BinaryPrimitives.ReadInt32LittleEndian(body[o..]);
            }

            var seed = BinaryPrimitives.ReadUInt64LittleEndian(body[o..]);
            o += 8;
            var rungCount = BinaryPrimitives.ReadInt32LittleEndian(body[o..]);
            o += 4;
            if (rungCount is < 1 or > 16)
            {
                throw new FormatException($"LSH scheme has {rungCount} thresholds");
            }

            var rungs = new float[rungCount];
            for (var i = 0; i < rungCount; i++, o += 4)
            {
                rungs[i] = BinaryPrimitives.ReadSingleLittleEndian(body[o..]);
            }

            float[]? center = null;
            if (body[o++] == 1)
            {
                center = new float[ints[0]];
                for (var i = 0; i < center.Length; i++, o += 4)
                {
                    center[i] = BinaryPrimitives.ReadSingleLittleEndian(body[o..]);
                }
            }

            LearningPlan? learning = null;
            if (family == LshFamily.Learning)
            {
                var maxBytes = BinaryPrimitives.ReadDoubleLittleEndian(body[(o + 24)..]);
                learning = new LearningPlan(BinaryPrimitives.ReadInt32LittleEndian(body[o..]), BinaryPrimitives.ReadDoubleLittleEndian(body[(o + 4)..]),
                    BinaryPrimitives.ReadInt32LittleEndian(body[(o + 12)..]), BinaryPrimitives.ReadInt64LittleEndian(body[(o + 16)..]), double.IsNaN(maxBytes) ? null : maxBytes);
                o += LearningBytes;
            }

            if (o != body.Length)
            {
                throw new FormatException($"LSH scheme has {body.Length - o} unexpected trailing bytes");
            }

            return new LshScheme(family, ints[0], ints[1], ints[3], seed, rungs, ints[5], ints[4], ints[2], center, learning);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new FormatException("LSH scheme is truncated");
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"LSH scheme holds an invalid value: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public bool Equals(LshScheme? other) => other is not null && ToBytes().AsSpan().SequenceEqual(other.ToBytes());

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as LshScheme);

    /// <inheritdoc />
    public override int GetHashCode() => Fingerprint.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => _learning is { } plan
        ? string.Create(CultureInfo.InvariantCulture,
            $"Learning from the first {plan.LearnFrom:N0} vectors (exact until then) d={Dimension} S={ShardCount} seed={Seed:x16} rungs={string.Join(',', _rungs)}")
        : string.Create(CultureInfo.InvariantCulture,
        $"{Family} d={Dimension} (padded {PaddedDimension}) k={HashesPerTable} L={Tables} T={Probes} S={ShardCount} seed={Seed:x16} rungs={string.Join(',', _rungs)}{(_center is null ? string.Empty : " centred")}");

    /// <summary><paramref name="body"/> followed by its checksum: a persisted form (for tests of what readers refuse).</summary>
    internal static byte[] WithChecksum(ReadOnlySpan<byte> body)
    {
        var bytes = new byte[body.Length + 8];
        body.CopyTo(bytes);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(body.Length), Checksum(body));
        return bytes;
    }

    private static ulong ComputeFingerprint(ReadOnlySpan<byte> bytes) => Checksum(bytes[..^8]);

    private static ulong Checksum(ReadOnlySpan<byte> bytes)
    {
        var h = 0x6A09E667F3BCC908UL;
        while (bytes.Length >= 8)
        {
            h = Mix64.Combine(h, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            bytes = bytes[8..];
        }

        ulong tail = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            tail |= (ulong)bytes[i] << (8 * i);
        }

        return Mix64.Combine(h, tail ^ ((ulong)bytes.Length << 56));
    }

    private static void Require(bool condition, string field, string reason)
    {
        if (!condition)
        {
            throw new ArgumentException($"{field}: {reason}", field);
        }
    }
}
