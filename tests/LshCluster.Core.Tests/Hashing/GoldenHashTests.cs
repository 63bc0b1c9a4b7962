using System.Globalization;
using System.Text;
using LshCluster.Core.Hashing;

namespace LshCluster.Core.Tests.Hashing;

/// <summary>
/// Bucket keys are persisted with every vector and compared across processes and machines: these frozen values
/// must never change. CI runs this class under every SIMD switch. Regenerate only for a new scheme format version
/// (LSHC_REGENERATE_GOLDEN=1), never to make a failure go away.
/// </summary>
public class GoldenHashTests
{
    private static readonly string GoldenPath = Path.Combine(AppContext.BaseDirectory, "Golden", "hashes.txt");

    public static IEnumerable<(string Name, LshScheme Scheme)> Schemes()
    {
        yield return ("cp-d100-k2-L4", new LshScheme(LshFamily.CrossPolytope, 100, 2, 4, 1, [0.99f, 0.9f], probes: 3));
        yield return ("cp-d784-k3-L3-last64", new LshScheme(LshFamily.CrossPolytope, 784, 3, 3, 0xDEADBEEF, [0.98f], probes: 5, lastRotationDimension: 64));
        yield return ("cp-d33-k1-L5", new LshScheme(LshFamily.CrossPolytope, 33, 1, 5, 12345, [0.9f]));
        yield return ("hp-d384-k16-L3", new LshScheme(LshFamily.Hyperplane, 384, 16, 3, 7, [0.95f], probes: 4));
        var center = Enumerable.Range(0, 128).Select(i => (float)(i % 7) / 64).ToArray();
        yield return ("cp-d128-k2-L2-centred", new LshScheme(LshFamily.CrossPolytope, 128, 2, 2, 99, [0.9f], shardCount: 64, center: center));
        yield return ("sb-d784-k20-L6-centred", new LshScheme(LshFamily.SignBands, 784, 20, 6, 11, [0.99f, 0.98f], probes: 3,
            center: [.. Enumerable.Range(0, 784).Select(i => (float)(i % 5) / 128)]));
        yield return ("sb-d40-k27-L5", new LshScheme(LshFamily.SignBands, 40, 27, 5, 13, [0.9f], shardCount: 256));
    }

    /// <summary>Vectors from integer arithmetic only (no libm), so the inputs are identical everywhere.</summary>
    public static float[] GoldenVector(int d, int index)
    {
        var rng = new SplitMix64((ulong)(d * 1000) + (ulong)index);
        var v = new float[d];
        for (var i = 0; i < d; i++)
        {
            v[i] = ((int)(rng.Next() >> 40) - (1 << 23)) / (float)(1 << 23);
        }

        return v;
    }

    public static string Render()
    {
        var text = new StringBuilder();
        foreach (var (name, scheme) in Schemes())
        {
            var hasher = new LshHasher(scheme);
            text.Append(CultureInfo.InvariantCulture, $"scheme {name} {Convert.ToBase64String(scheme.ToBytes())}\n");
            for (var index = 0; index < 4; index++)
            {
                var v = GoldenVector(scheme.Dimension, index);
                var keys = new ulong[scheme.Tables];
                var codes = new int[hasher.CodeCount];
                var probes = new ulong[hasher.ProbeCount];
                hasher.Hash(v, keys, codes, probes);
                var shards = keys.Select((k, t) => scheme.ShardOfBucket(t, k));
                text.Append(CultureInfo.InvariantCulture, $"  vector {index} home {scheme.HomeShard($"id-{index}")}\n");
                text.Append(CultureInfo.InvariantCulture, $"    keys {string.Join(' ', keys.Select(k => k.ToString("x16", CultureInfo.InvariantCulture)))}\n");
                text.Append(CultureInfo.InvariantCulture, $"    shards {string.Join(' ', shards)}\n");
                text.Append(CultureInfo.InvariantCulture, $"    codes {string.Join(' ', codes)}\n");
                text.Append(CultureInfo.InvariantCulture, $"    probes {string.Join(' ', probes.Select(k => k.ToString("x16", CultureInfo.InvariantCulture)))}\n");
                text.Append(CultureInfo.InvariantCulture, $"    sketch {hasher.ComputeSketch(v)}\n");
            }
        }

        return text.ToString();
    }

    [Fact]
    public void Bucket_keys_codes_probes_and_sketches_never_change()
    {
        var actual = Render();
        if (Environment.GetEnvironmentVariable("LSHC_REGENERATE_GOLDEN") == "1")
        {
            var source = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "Golden", "hashes.txt"));
            File.WriteAllText(source, actual);
        }

        var expected = File.ReadAllText(GoldenPath).ReplaceLineEndings("\n");
        var expectedLines = expected.Split('\n');
        var actualLines = actual.Split('\n');
        for (var i = 0; i < Math.Min(expectedLines.Length, actualLines.Length); i++)
        {
            Assert.True(expectedLines[i] == actualLines[i], $"golden line {i + 1} changed:\nexpected {expectedLines[i]}\nactual   {actualLines[i]}");
        }

        Assert.Equal(expectedLines.Length, actualLines.Length);
    }

    [Fact]
    public void Golden_schemes_round_trip_through_their_persisted_form()
    {
        foreach (var line in File.ReadLines(GoldenPath).Where(l => l.StartsWith("scheme ", StringComparison.Ordinal)))
        {
            var parts = line.Split(' ');
            var scheme = LshScheme.FromBytes(Convert.FromBase64String(parts[2]));
            Assert.Equal(parts[2], Convert.ToBase64String(scheme.ToBytes()));
        }
    }
}
