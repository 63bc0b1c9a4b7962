using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using LshCluster.Core.Hashing;
using LshCluster.Core.Kernels;

namespace LshCluster.Benchmarks;

/// <summary>
/// The fast Walsh–Hadamard transform on float32 (targets: n = 256 ≤ 35 ns, n = 1024 ≤ 105 ns). Buffers are 64-byte
/// aligned, as the hasher's scratch is. The input is read from a fixed buffer each time so that values stay
/// bounded (repeating in place grows them by √n per call).
/// </summary>
[MemoryDiagnoser]
public unsafe class HadamardBenchmarks
{
    private float* _source;
    private float* _destination;

    [Params(128, 256, 512, 1024, 2048, 4096)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _source = (float*)NativeMemory.AlignedAlloc((nuint)(N * sizeof(float)), 64);
        _destination = (float*)NativeMemory.AlignedAlloc((nuint)(N * sizeof(float)), 64);
        var rng = new SplitMix64(1);
        for (var i = 0; i < N; i++)
        {
            _source[i] = (float)rng.NextGaussian();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_source);
        NativeMemory.AlignedFree(_destination);
    }

    [Benchmark]
    public void Transform() => FastHadamard.Transform(new ReadOnlySpan<float>(_source, N), new Span<float>(_destination, N), default);
}
