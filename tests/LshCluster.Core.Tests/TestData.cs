using LshCluster.Core.Hashing;

namespace LshCluster.Core.Tests;

public static class TestData
{
    /// <summary>Standard normal values from a fixed seed.</summary>
    public static float[] RandomValues(int n, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var x = new float[n];
        for (var i = 0; i < n; i++)
        {
            x[i] = (float)rng.NextGaussian();
        }

        return x;
    }
}
