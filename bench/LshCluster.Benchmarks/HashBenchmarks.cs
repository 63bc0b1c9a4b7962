using BenchmarkDotNet.Attributes;
using LshCluster.Core.Hashing;
using LshCluster.Core.Kernels;

namespace LshCluster.Benchmarks;

/// <summary>
/// One cross-polytope hash with 3 rotations (targets: d = 256 ≤ 60 ns, d = 784 ≤ 180 ns) — measured both as k = 3
/// rotations of H D3 H D2 H D1 (nine transforms) and as one rotation (three transforms, FALCONN's num_rotations = 3
/// meaning three HD rounds), all L tables of one
/// vector with the planner's scheme for cos 0.9 / recall 0.99 without multiprobe (k = 2, L = 36 at d = 784), the
/// sketch, and the cosine used for verification.
/// </summary>
[MemoryDiagnoser]
public class HashBenchmarks
{
    private LshHasher _oneHash = null!;
    private LshHasher _oneRotation = null!;
    private LshHasher _allTables = null!;
    private float[] _vector = [];
    private float[] _other = [];
    private ulong[] _key = new ulong[1];
    private ulong[] _keys = [];

    [Params(256, 784)]
    public int Dimension { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _oneHash = new LshHasher(new LshScheme(LshFamily.CrossPolytope, Dimension, 3, 1, 1, [0.9f]));
        _oneRotation = new LshHasher(new LshScheme(LshFamily.CrossPolytope, Dimension, 1, 1, 1, [0.9f]));
        var tables = Dimension == 256 ? 27 : 36;
        _allTables = new LshHasher(new LshScheme(LshFamily.CrossPolytope, Dimension, 2, tables, 1, [0.9f]));
        var rng = new SplitMix64(2);
        _vector = Enumerable.Range(0, Dimension).Select(_ => (float)rng.NextGaussian()).ToArray();
        _other = Enumerable.Range(0, Dimension).Select(_ => (float)rng.NextGaussian()).ToArray();
        _key = new ulong[1];
        _keys = new ulong[tables];
    }

    [Benchmark(Description = "one CP hash, 3 rotations")]
    public void OneCrossPolytopeHash() => _oneHash.ComputeBucketKeys(_vector, _key);

    [Benchmark(Description = "one CP hash, 1 rotation (3 HD rounds)")]
    public void OneRotation() => _oneRotation.ComputeBucketKeys(_vector, _key);

    [Benchmark(Description = "all tables (k=2, L=27|36)")]
    public void AllTables() => _allTables.ComputeBucketKeys(_vector, _keys);

    [Benchmark(Description = "128-bit sketch")]
    public Sketch128 Sketch() => _oneHash.ComputeSketch(_vector);

    [Benchmark(Description = "cosine")]
    public float Cosine() => VectorMath.Cosine(_vector, _other);
}
