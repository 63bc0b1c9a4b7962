using LshCluster.Core.Hashing;

namespace LshCluster.Core.Tests.Hashing;

public class LshSchemeTests
{
    private static LshScheme Sample(ulong seed = 3) =>
        new(LshFamily.CrossPolytope, 10, 2, 4, seed, [0.99f, 0.95f], shardCount: 16, probes: 2, center: new float[10]);

    [Fact]
    public void The_persisted_form_round_trips_every_field()
    {
        var scheme = Sample();

        var copy = LshScheme.FromBytes(scheme.ToBytes());

        Assert.Equal(scheme, copy);
        Assert.Equal(scheme.Fingerprint, copy.Fingerprint);
        Assert.Equal([0.99f, 0.95f], copy.Rungs);
        Assert.Equal(16, copy.ShardCount);
        Assert.Equal(2, copy.Probes);
        Assert.NotNull(copy.Center);
        Assert.Equal(16, copy.PaddedDimension);
    }

    [Fact]
    public void Different_schemes_have_different_fingerprints()
    {
        Assert.NotEqual(Sample(3).Fingerprint, Sample(4).Fingerprint);
    }

    [Fact]
    public void A_flipped_byte_is_detected()
    {
        var bytes = Sample().ToBytes();
        bytes[20] ^= 1;

        var e = Assert.Throws<FormatException>(() => LshScheme.FromBytes(bytes));
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void Other_data_and_other_versions_are_refused_with_a_reason()
    {
        Assert.Contains("magic", Assert.Throws<FormatException>(() => LshScheme.FromBytes("not a scheme at all"u8)).Message);

        var bytes = Sample().ToBytes();
        bytes[4] = 9;
        Assert.Contains("version 9", Assert.Throws<FormatException>(() => LshScheme.FromBytes(bytes)).Message);
    }

    [Fact]
    public void Sign_band_schemes_are_format_version_2_and_older_families_stay_version_1()
    {
        var bands = new LshScheme(LshFamily.SignBands, 784, 20, 102, 5, [0.99f, 0.98f], probes: 2, center: new float[784]);
        var bytes = bands.ToBytes();

        Assert.Equal(2, BitConverter.ToUInt16(bytes, 4));
        Assert.Equal(1, BitConverter.ToUInt16(Sample().ToBytes(), 4));
        var copy = LshScheme.FromBytes(bytes);
        Assert.Equal(bands, copy);
        Assert.Equal(LshFamily.SignBands, copy.Family);
        Assert.Equal(2, copy.RotationsPerVector); // 102 × 20 bits from two rotations of 1,024 coordinates

        // A sign-band scheme labelled version 1 (which cannot hold it), checksum intact, is refused.
        bytes[4] = 1;
        var relabelled = LshScheme.WithChecksum(bytes[..^8]);
        Assert.Contains("cannot be format version 1", Assert.Throws<FormatException>(() => LshScheme.FromBytes(relabelled)).Message);
    }

    [Fact]
    public void A_learning_scheme_is_format_version_3_and_round_trips_its_plan()
    {
        var learning = LshScheme.ForLearning(784, [0.99f, 0.98f], new LearningPlan(2000, 0.995, 4, 1_000_000, 4077), shardCount: 64, seed: 9);
        var bytes = learning.ToBytes();

        Assert.Equal(3, BitConverter.ToUInt16(bytes, 4));
        var copy = LshScheme.FromBytes(bytes);
        Assert.Equal(learning, copy);
        Assert.True(copy.IsLearning);
        Assert.Equal(new LearningPlan(2000, 0.995, 4, 1_000_000, 4077), copy.Learning);
        Assert.Equal((1, 1, 0), (copy.Tables, copy.HashesPerTable, copy.RotationsPerVector));
        Assert.Null(LshScheme.FromBytes(LshScheme.ForLearning(8, [0.9f], new LearningPlan(10, 0.9, 1, 100)).ToBytes()).Learning!.MaxBytesPerVector);
        Assert.Contains("first 2,000 vectors", copy.ToString());

        // Its plan is part of the fingerprint: another N is another scheme.
        Assert.NotEqual(learning.Fingerprint, LshScheme.ForLearning(784, [0.99f, 0.98f], new LearningPlan(1000, 0.995, 4, 1_000_000, 4077), 64, 9).Fingerprint);

        // A learning scheme labelled version 2, checksum intact, is refused.
        bytes[4] = 2;
        Assert.Contains("cannot be format version 2", Assert.Throws<FormatException>(() => LshScheme.FromBytes(LshScheme.WithChecksum(bytes[..^8]))).Message);
    }

    [Fact]
    public void A_learning_scheme_puts_every_vector_in_one_bucket_and_still_refuses_invalid_vectors()
    {
        var hasher = new LshHasher(LshScheme.ForLearning(5, [0.9f], new LearningPlan(10, 0.9, 1, 100)));
        var a = new ulong[1];
        var b = new ulong[1];

        hasher.ComputeBucketKeys([1, 2, 3, 4, 5], a);
        hasher.ComputeBucketKeys([-5, 0, 0, 0, 1e-3f], b);

        Assert.Equal(a, b);
        Assert.Throws<LshCluster.Core.Vectors.InvalidVectorException>(() => hasher.ComputeBucketKeys([1, float.NaN, 3, 4, 5], a));
        Assert.Throws<LshCluster.Core.Vectors.InvalidVectorException>(() => hasher.ComputeBucketKeys([0, 0, 0, 0, 0], a));
    }

    [Theory]
    [InlineData(0, 0.99, 1, 100, null, "learnFrom")]
    [InlineData(10, 1.0, 1, 100, null, "recall")]
    [InlineData(10, 0.99, 0, 100, null, "maxProbes")]
    [InlineData(10, 0.99, 1, 0, null, "expectedVectors")]
    [InlineData(10, 0.99, 1, 100, -5.0, "maxBytesPerVector")]
    public void A_learning_plan_out_of_range_names_its_field(int learnFrom, double recall, int probes, long expected, double? maxBytes, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => LshScheme.ForLearning(8, [0.9f], new LearningPlan(learnFrom, recall, probes, expected, maxBytes)));
        Assert.Contains(field + ":", e.Message);
    }

    [Fact]
    public void Only_a_learning_scheme_has_a_learning_plan_and_it_has_one_table_of_one_hash()
    {
        var plan = new LearningPlan(10, 0.9, 1, 100);
        Assert.Contains("learning", Assert.Throws<ArgumentException>(() => new LshScheme(LshFamily.SignBands, 8, 4, 2, 1, [0.9f], learning: plan)).Message);
        Assert.Contains("learning", Assert.Throws<ArgumentException>(() => new LshScheme(LshFamily.Learning, 8, 1, 1, 1, [0.9f])).Message);
        Assert.Contains("one table", Assert.Throws<ArgumentException>(() => new LshScheme(LshFamily.Learning, 8, 1, 3, 1, [0.9f], learning: plan)).Message);
    }

    [Theory]
    [InlineData(0, 2, 4, 1, 1, "dimension")]
    [InlineData(10, 0, 4, 1, 1, "hashesPerTable")]
    [InlineData(10, 9, 4, 1, 1, "hashesPerTable")]
    [InlineData(10, 2, 0, 1, 1, "tables")]
    [InlineData(10, 2, 4, 0, 1, "shardCount")]
    [InlineData(10, 2, 4, 1, 0, "probes")]
    public void Out_of_range_parameters_name_their_field(int d, int k, int tables, int shards, int probes, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => new LshScheme(LshFamily.CrossPolytope, d, k, tables, 1, [0.9f], shards, probes));

        Assert.Equal(field, e.ParamName);
        Assert.StartsWith(field + ":", e.Message);
    }

    [Theory]
    [InlineData(new[] { 0.9f, 0.95f }, "decreasing")]
    [InlineData(new[] { 1.5f }, "not in (0, 1]")]
    [InlineData(new float[0], "need 1")]
    public void Bad_rungs_are_explained(float[] rungs, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => new LshScheme(LshFamily.CrossPolytope, 10, 1, 1, 1, rungs));

        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void The_last_rotation_dimension_must_be_a_power_of_two_within_the_padded_dimension()
    {
        Assert.Throws<ArgumentException>(() => new LshScheme(LshFamily.CrossPolytope, 100, 2, 1, 1, [0.9f], lastRotationDimension: 48));
        Assert.Throws<ArgumentException>(() => new LshScheme(LshFamily.CrossPolytope, 100, 2, 1, 1, [0.9f], lastRotationDimension: 256));
        Assert.Equal(32, new LshScheme(LshFamily.CrossPolytope, 100, 2, 1, 1, [0.9f], lastRotationDimension: 32).LastRotationDimension);
    }

    [Fact]
    public void A_centre_of_the_wrong_length_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new LshScheme(LshFamily.CrossPolytope, 10, 1, 1, 1, [0.9f], center: new float[9]));

        Assert.Contains("must have 10 values", e.Message);
    }
}
