using LshCluster.Core.Hashing;
using LshCluster.Core.Planning;
using LshCluster.Core.Vectors;

namespace LshCluster.Core.Tests.Planning;

public class LshPlannerTests
{
    [Theory]
    [InlineData(256, 0.9, 0.99, 1)]
    [InlineData(256, 0.9, 0.9, 1)]
    [InlineData(784, 0.95, 0.95, 8)]
    [InlineData(384, 0.9, 0.9, 4)]
    public void Predicted_recall_matches_the_recall_measured_on_planted_pairs(int d, double threshold, double recall, int maxProbes)
    {
        var plan = LshPlanner.Plan(new PlanRequest { Dimension = d, Threshold = threshold, Recall = recall, MaxProbes = maxProbes, Seed = 77 });

        var measured = MeasureRecall(plan.Scheme, threshold, pairs: 6000);

        Assert.True(plan.Chosen.PredictedRecall >= recall, $"the plan predicts {plan.Chosen.PredictedRecall} below the target {recall}");
        Assert.True(Math.Abs(measured - plan.Chosen.PredictedRecall) <= 0.01,
            $"{plan.Scheme}: predicted {plan.Chosen.PredictedRecall:F4}, measured {measured:F4}");
    }

    [Fact]
    public void The_planner_reproduces_the_known_table_counts_without_multiprobe()
    {
        // Measured here: recall 0.99 at cos 0.9 needs k = 2 with L = 27 at d = 256 and L = 36 at d = 784.
        var p256 = LshPlanner.TableProbability(LshFamily.CrossPolytope, 256, 2, 0.9);
        var p784 = LshPlanner.TableProbability(LshFamily.CrossPolytope, 1024, 2, 0.9);

        Assert.Equal(27, TablesFor(p256, 0.99));
        Assert.Equal(36, TablesFor(p784, 0.99));
    }

    [Fact]
    public void Multiprobe_hit_rates_grow_with_the_number_of_probes()
    {
        var rates = LshPlanner.MeasureProbeHitRates(LshFamily.CrossPolytope, 256, 2, 8, 0.9, pairs: 200, tables: 32, seed: 3);

        Assert.Equal(LshPlanner.TableProbability(LshFamily.CrossPolytope, 256, 2, 0.9), rates[0], 0.02);
        for (var t = 1; t < rates.Length; t++)
        {
            Assert.True(rates[t] >= rates[t - 1]);
        }

        Assert.True(rates[7] > rates[0] * 1.3, $"8 probes hit {rates[7]:F3}, 1 probe {rates[0]:F3}");
    }

    [Fact]
    public void A_sample_of_anisotropic_data_turns_on_centring()
    {
        var rng = new SplitMix64(5);
        var common = new float[64];
        SyntheticVectors.RandomUnit(ref rng, common);
        var sample = new List<float[]>();
        for (var i = 0; i < 300; i++)
        {
            var v = new float[64];
            SyntheticVectors.NearDuplicate(common, 0.7, ref rng, v);
            sample.Add(v);
        }

        var plan = LshPlanner.Plan(new PlanRequest { Dimension = 64, Threshold = 0.95, Recall = 0.95, Sample = sample, MaxProbes = 1 });

        Assert.NotNull(plan.Scheme.Center);
        Assert.True(plan.CenterNorm > 0.5, $"|mu| = {plan.CenterNorm}");
        Assert.True(plan.EffectiveThreshold < 0.95, $"centring should lower the near-duplicates' similarity; got {plan.EffectiveThreshold}");
        Assert.Contains(plan.Options, o => !o.Centred);
        Assert.True(plan.Chosen.CostNanoseconds <= plan.Options.Where(o => !o.Centred).Min(o => o.CostNanoseconds), "the cheapest configuration wins");
    }

    [Theory]
    [InlineData(0, 0.9, 0.99, "dimension")]
    [InlineData(100, 1.5, 0.99, "threshold")]
    [InlineData(100, 0.9, 1.0, "recall")]
    public void Bad_requests_name_the_field(int d, double threshold, double recall, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => LshPlanner.Plan(new PlanRequest { Dimension = d, Threshold = threshold, Recall = recall }));

        Assert.StartsWith(field + ":", e.Message);
    }

    [Fact]
    public void A_memory_limit_keeps_the_plans_within_it_and_one_below_every_plan_is_refused()
    {
        var request = new PlanRequest { Dimension = 256, Threshold = 0.9, Recall = 0.99, MaxProbes = 1, Seed = 5 };
        var free = LshPlanner.Plan(request);
        Assert.Equal(LshPlanner.PredictedBytesPerVector(256, free.Chosen.Tables), free.Chosen.BytesPerVector);

        // A limit below the unlimited choice's memory: another plan, of fewer tables, within it.
        var limit = free.Chosen.BytesPerVector - 1;
        var limited = LshPlanner.Plan(request with { MaxBytesPerVector = limit });
        Assert.True(limited.Chosen.Tables < free.Chosen.Tables, $"{limited.Chosen.Tables} tables under the limit, {free.Chosen.Tables} without");
        Assert.All(limited.Options, o => Assert.True(o.BytesPerVector <= limit));
        Assert.True(limited.Chosen.PredictedRecall >= 0.99);

        var least = free.Options.Min(o => o.BytesPerVector);
        var e = Assert.Throws<InvalidOperationException>(() => LshPlanner.Plan(request with { MaxBytesPerVector = least - 1 }));
        Assert.StartsWith("max bytes per vector:", e.Message);
        Assert.Throws<ArgumentException>(() => LshPlanner.Plan(request with { MaxBytesPerVector = 0 }));
    }

    private static int TablesFor(double q, double recall)
    {
        var tables = 1;
        while (LshPlanner.Recall(q, tables) < recall)
        {
            tables++;
        }

        return tables;
    }

    private static double MeasureRecall(LshScheme scheme, double cosine, int pairs)
    {
        var hasher = new LshHasher(scheme);
        var rng = new SplitMix64(4242);
        var x = new float[scheme.Dimension];
        var y = new float[scheme.Dimension];
        var probes = new ulong[hasher.ProbeCount];
        var keys = new ulong[scheme.Tables];
        var found = 0;
        for (var p = 0; p < pairs; p++)
        {
            SyntheticVectors.RandomUnit(ref rng, x);
            SyntheticVectors.NearDuplicate(x, cosine, ref rng, y);
            hasher.ComputeProbes(x, probes);
            hasher.ComputeBucketKeys(y, keys);
            var hit = false;
            for (var t = 0; t < scheme.Tables && !hit; t++)
            {
                hit = Array.IndexOf(probes, keys[t], t * scheme.Probes, scheme.Probes) >= 0;
            }

            found += hit ? 1 : 0;
        }

        return (double)found / pairs;
    }
}
