using LshCluster.Core.Kernels;

namespace LshCluster.Core.Tests;

/// <summary>
/// Runs code once per vector width this machine accelerates (and the scalar reference). Tests that lower the width
/// share one non-parallel collection, so no other test observes the lowered cap.
/// </summary>
public static class SimdPaths
{
    public static IEnumerable<int> Available()
    {
        yield return 0;
        if (System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated)
        {
            yield return 128;
        }

        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            yield return 256;
        }

        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            yield return 512;
        }
    }

    public static T With<T>(int bits, Func<T> action)
    {
        var saved = SimdLevel.MaxBits;
        SimdLevel.MaxBits = bits;
        try
        {
            return action();
        }
        finally
        {
            SimdLevel.MaxBits = saved;
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SimdPathCollection
{
    public const string Name = "SIMD paths";
}
