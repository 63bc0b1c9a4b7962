using BenchmarkDotNet.Attributes;
using LshCluster.Client;
using LshCluster.Core.Hashing;

namespace LshCluster.Benchmarks;

/// <summary>
/// Issue 4's client target: hash-and-route per vector at ≥ 90 % of the hashing kernel's throughput, with no allocation
/// in routing. Both sides do the same hashing (all tables, sketch and projection) into preallocated buffers; routing
/// adds the home shard of the id and the owner's lookup in the shard map.
/// </summary>
[MemoryDiagnoser]
public class ClientRoutingBenchmarks
{
    private LshHasher _hasher = null!;
    private HashRouter _router = null!;
    private float[] _vector = [];
    private ulong[] _keys = [];
    private float[] _projection = [];
    private string[] _owners = [];
    private string _id = string.Empty;

    [Params(256, 784)]
    public int Dimension { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var scheme = new LshScheme(LshFamily.CrossPolytope, Dimension, 2, Dimension == 256 ? 27 : 36, 1, [0.9f]);
        _hasher = new LshHasher(scheme);
        _router = new HashRouter(scheme);
        var rng = new SplitMix64(3);
        _vector = [.. Enumerable.Range(0, Dimension).Select(_ => (float)rng.NextGaussian())];
        _keys = new ulong[scheme.Tables];
        _projection = new float[_hasher.ProjectionLength];
        _owners = [.. Enumerable.Range(0, scheme.ShardCount).Select(s => $"http://10.0.0.{s % 3}:7001")];
        _id = "image-000123456";
    }

    [Benchmark(Baseline = true, Description = "hash (all tables + sketch + projection)")]
    public Sketch128 Hash()
    {
        _hasher.Hash(_vector, _keys, default, default);
        return _hasher.ComputeSketch(_vector, _projection);
    }

    [Benchmark(Description = "hash and route (client)")]
    public string HashAndRoute()
    {
        var shard = _router.Route(_id, _vector, _keys, default, _projection, out _, out _);
        return _owners[shard];
    }
}
