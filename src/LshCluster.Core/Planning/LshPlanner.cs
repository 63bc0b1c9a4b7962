using System.Collections.Concurrent;
using System.Numerics;
using LshCluster.Core.Hashing;
using LshCluster.Core.Kernels;
using LshCluster.Core.Vectors;

namespace LshCluster.Core.Planning;

/// <summary>
/// Chooses the family, k, L and T from a target threshold and recall (and optionally a data sample) using exact
/// collision probabilities, Monte Carlo multiprobe hit rates and a cost model of an insert (rotations, bucket
/// operations, bucket entries walked past, candidates checked), and predicts the recall and the candidates per
/// insert. See docs/planner.md.
/// </summary>
public static class LshPlanner
{
    // Cost model, nanoseconds on one core, measured on this machine type in the engine (docs/planner.md): a 1024-point
    // transform with its sign diagonal ~250 ns; a table ~1 µs per insert (its probe, its entry in memory and in the
    // store's bucket log, and the garbage of both); a bucket entry walked past (its sketch compared) a few ns; a
    // candidate that passes the sketch ~250 ns at d = 784 (message, projection screen and cache misses dominate,
    // not the arithmetic).
    private const double NsPerHadamardElementStage = 0.024;
    private const double NsPerProbe = 400;
    private const double NsPerStoredEntry = 600;
    private const double NsPerBucketEntry = 4;
    private const double NsPerCandidateBase = 250;
    private const double NsPerCandidateValue = 0.06;

    // Memory model, bytes per stored vector beside its values (docs/planner.md): fitted on `lshc bench ingest --memory`
    // at d = 784 (the record, its projection, id maps and directory entry; a bucket entry is a 4-byte handle, most
    // buckets one member in a 12-byte map slot).
    private const double BytesPerVectorOverhead = 620;
    private const double BytesPerTable = 19;

    private const int MonteCarloPairs = 400;
    private const int MinimumMeasuredSample = 200;
    private const int MonteCarloTables = 48;
    private const double CentreWhenMeanCosineAbove = 0.05;

    private static readonly ConcurrentDictionary<(int N, int RhoMillis), double> CrossPolytopeCache = new();

    /// <summary>Plans a scheme for <paramref name="request"/>.</summary>
    /// <exception cref="ArgumentException">A request field is out of range (named in the message).</exception>
    /// <exception cref="InvalidOperationException">No configuration within 1024 tables reaches the recall.</exception>
    public static LshPlan Plan(PlanRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        var d = request.Dimension;
        var padded = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, d));

        var (mean, centerNorm) = CenterOf(request);

        // With an anisotropic sample, weigh both: centring spreads the buckets (fewer candidates) but lowers the
        // near-duplicates' similarity (more tables). Which is cheaper depends on the data.
        var options = new List<PlanOption>();
        var effectiveOf = new Dictionary<bool, double>();
        LshFamily[] families = request.Family is { } only ? [only] : [LshFamily.CrossPolytope, LshFamily.SignBands];
        var measured = request.Sample is { Count: >= MinimumMeasuredSample } sample ? new SampleCollisions(sample, request.Threshold) : null;
        foreach (var center in mean is null ? [null] : new[] { mean, null })
        {
            var nearCosines = NearDuplicateCosines(request, center);
            var unrelated = UnrelatedPairs(request, center);
            var effective = Median(nearCosines);
            effectiveOf[center is not null] = effective;
            foreach (var family in families)
            {
                AddOptions(request, family, d, padded, nearCosines, unrelated, effective, center is not null, options);
            }
        }

        if (options.Count == 0)
        {
            throw new InvalidOperationException(
                $"no configuration with at most {LshScheme.MaxTables} tables reaches recall {request.Recall} at cosine {request.Threshold}; lower the recall or the threshold");
        }

        if (request.MaxBytesPerVector is { } budget)
        {
            var within = options.Where(o => o.BytesPerVector <= budget).ToList();
            if (within.Count == 0)
            {
                var least = options.MinBy(o => o.BytesPerVector)!;
                throw new InvalidOperationException(
                    $"max bytes per vector: no plan reaching recall {request.Recall} at cosine {request.Threshold} fits in {budget:N0} bytes per vector; the least needs {least.BytesPerVector:N0} ({least.Tables} tables); raise the limit or lower the recall");
            }

            options = within;
        }

        if (measured is not null)
        {
            options = MeasureCheapest(request, padded, options, mean, measured);
        }

        options.Sort((a, b) => a.CostNanoseconds.CompareTo(b.CostNanoseconds));
        var chosen = options[0];
        var rungs = request.Rungs ?? [(float)request.Threshold];
        var scheme = SchemeOf(request, chosen.Family, chosen.HashesPerTable, chosen.Tables, chosen.Probes, chosen.Centred ? mean : null);
        return new LshPlan(scheme, chosen, options, centerNorm, effectiveOf[chosen.Centred]);
    }

    /// <summary>
    /// The plan a learning scheme (<see cref="LshScheme.IsLearning"/>) fixes once it has stored enough vectors
    /// (ADR 0009): made from <paramref name="learned"/> as the sample, as its <see cref="LearningPlan"/> asks, with the
    /// learning scheme's routing part (dimension, rungs, shards, seed) unchanged, so that homes and sketches stay valid.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="learning"/> is not a learning scheme.</exception>
    /// <exception cref="InvalidOperationException">No configuration reaches the recall (within the memory limit).</exception>
    public static LshPlan PlanLearned(LshScheme learning, IReadOnlyList<float[]> learned)
    {
        ArgumentNullException.ThrowIfNull(learning);
        var plan = learning.Learning ?? throw new ArgumentException("learning: the scheme has fixed its hashing already", nameof(learning));
        return Plan(new PlanRequest
        {
            Dimension = learning.Dimension,
            Threshold = learning.LowestRung,
            Rungs = learning.Rungs,
            Recall = plan.Recall,
            MaxProbes = plan.MaxProbes,
            StoredVectors = plan.ExpectedVectors,
            MaxBytesPerVector = plan.MaxBytesPerVector,
            Sample = learned,
            ShardCount = learning.ShardCount,
            Seed = learning.Seed,
        });
    }

    private static LshScheme SchemeOf(PlanRequest request, LshFamily family, int k, int tables, int probes, float[]? center) =>
        new(family, request.Dimension, k, tables, request.Seed, request.Rungs ?? [(float)request.Threshold], request.ShardCount, probes, center: center);

    /// <summary>
    /// The options' bucket entries and checks measured on the sample, cheapest fixed cost (rotations and tables) first,
    /// until an option's fixed cost alone exceeds the cheapest total measured: only those are returned.
    /// </summary>
    private static List<PlanOption> MeasureCheapest(PlanRequest request, int padded, List<PlanOption> options, float[]? mean, SampleCollisions measured)
    {
        var result = new List<PlanOption>();
        var best = double.PositiveInfinity;
        foreach (var o in options.OrderBy(o => FixedCost(o, padded)))
        {
            var fixedCost = FixedCost(o, padded);
            if (fixedCost >= best)
            {
                break;
            }

            // Probes multiply the meetings (an upper bound): measured with one, times T.
            var (entriesPerPair, candidatesPerPair) = measured.Measure(SchemeOf(request, o.Family, o.HashesPerTable, o.Tables, 1, o.Centred ? mean : null));
            var entries = request.StoredVectors * entriesPerPair * o.Probes;
            var candidates = request.StoredVectors * Math.Min(1, candidatesPerPair * o.Probes);
            var cost = fixedCost + (entries * NsPerBucketEntry) + (candidates * (NsPerCandidateBase + (NsPerCandidateValue * request.Dimension)));
            result.Add(o with { BucketEntriesPerInsert = entries, CandidatesPerInsert = candidates, CostNanoseconds = cost });
            best = Math.Min(best, cost);
        }

        return result;
    }

    /// <summary>What an option costs per insert whatever the data: its rotations and its tables' probes and entries.</summary>
    private static double FixedCost(PlanOption o, int padded) =>
        (o.Rotations * 3 * NsPerHadamardElementStage * padded * Math.Log2(padded)) + (o.Tables * o.Probes * NsPerProbe) + (o.Tables * NsPerStoredEntry);

    private static void AddOptions(PlanRequest request, LshFamily family, int d, int padded, double[] nearCosines, (double Hashed, double Raw)[] unrelated,
        double effective, bool centred, List<PlanOption> options)
    {
        var ks = family switch
        {
            LshFamily.CrossPolytope => Enumerable.Range(1, 4),
            LshFamily.Hyperplane => Enumerable.Range(1, 24),
            _ => Enumerable.Range(4, 37), // bands of 4 … 40 bits
        };
        var maxHamming = Sketch128.MaxHamming(request.Threshold);
        var sketchPass = unrelated.Select(u => Sketch128.PassProbability(u.Raw, maxHamming)).ToArray();
        var transform = 3 * NsPerHadamardElementStage * padded * Math.Log2(padded);
        foreach (var k in ks)
        {
            var hitRates = request.MaxProbes > 1
                ? MeasureProbeHitRates(family, d, k, request.MaxProbes, effective, MonteCarloPairs, MonteCarloTables, request.Seed)
                : null;
            for (var t = 1; t <= request.MaxProbes; t *= 2)
            {
                // Multiprobe gain measured at the effective threshold, applied to every planted pair.
                var gain = t == 1 || hitRates is null ? 1 : hitRates[t - 1] / Math.Max(hitRates[0], 1e-12);
                var q = nearCosines.Select(c => Math.Min(1, gain * TableProbability(family, padded, k, c))).ToArray();
                var tables = TablesFor(q, request.Recall);
                if (tables == 0)
                {
                    continue;
                }

                var recall = q.Average(x => Recall(x, tables));

                // Every stored vector that meets an insert in a table is a bucket entry walked past; those that pass the
                // sketch filter are checked exactly at their home. Modelled here — an unrelated vector meets it with chance
                // T·p^k per table — and measured on the sample when there is one (MeasureCheapest).
                var perTable = unrelated.Select(u => Math.Min(1, t * TableProbability(family, padded, k, u.Hashed))).ToArray();
                var entries = request.StoredVectors * tables * perTable.Average();
                var candidates = request.StoredVectors * perTable.Select((p, i) => Recall(p, tables) * sketchPass[i]).Average();

                var rotations = family switch
                {
                    LshFamily.CrossPolytope => tables * k,
                    LshFamily.Hyperplane => tables * ((k + padded - 1) / padded),
                    _ => ((tables * k) + padded - 1) / padded,
                };
                var cost = (rotations * transform)
                    + (tables * t * NsPerProbe)
                    + (tables * NsPerStoredEntry)
                    + (entries * NsPerBucketEntry)
                    + (candidates * (NsPerCandidateBase + (NsPerCandidateValue * d)));
                options.Add(new PlanOption(k, tables, t, q.Average(), recall, candidates, cost, centred, family, entries, rotations, PredictedBytesPerVector(d, tables)));
            }
        }
    }

    /// <summary>
    /// The resident memory a stored vector of <paramref name="dimension"/> values takes with <paramref name="tables"/>
    /// tables: its values, a fixed overhead, and a bucket entry per table (the memory model in docs/planner.md).
    /// </summary>
    public static double PredictedBytesPerVector(int dimension, int tables) => (4.0 * dimension) + BytesPerVectorOverhead + (BytesPerTable * tables);

    /// <summary>The chance that at least one of <paramref name="tables"/> independent tables hits: 1 − (1 − q)^L.</summary>
    public static double Recall(double tableHitProbability, int tables) => 1 - Math.Pow(1 - tableHitProbability, tables);

    /// <summary>
    /// The exact single-table collision probability at cosine ρ: cross-polytope p(d′, ρ)^k, hyperplane and sign bands
    /// (1 − θ/π)^k (the bits of a band are coordinates of one rotation: orthogonal projections, taken as independent;
    /// EmpiricalCollisionTests measures how far that holds).
    /// </summary>
    public static double TableProbability(LshFamily family, int paddedDimension, int k, double rho)
    {
        if (family != LshFamily.CrossPolytope)
        {
            return Math.Pow(CollisionProbability.Hyperplane(rho), k);
        }

        return Math.Pow(CachedCrossPolytope(paddedDimension, rho), k);
    }

    /// <summary>
    /// Measures by Monte Carlo how often a near neighbour at exactly <paramref name="cosine"/> falls into one of
    /// the first T probes of a table, for T = 1 … <paramref name="maxProbes"/>: element T − 1 of the result.
    /// Pairs are isotropic (random directions).
    /// </summary>
    public static double[] MeasureProbeHitRates(LshFamily family, int dimension, int k, int maxProbes, double cosine, int pairs, int tables, ulong seed)
    {
        var scheme = new LshScheme(family, dimension, k, tables, seed ^ 0x6D6370726F6265UL, [(float)Math.Clamp(cosine, 0.01, 1)], probes: maxProbes);
        var hasher = new LshHasher(scheme);
        var rng = new SplitMix64(seed + (ulong)k);
        var x = new float[dimension];
        var y = new float[dimension];
        var probes = new ulong[hasher.ProbeCount];
        var keys = new ulong[tables];
        var hitsAt = new long[maxProbes];
        for (var p = 0; p < pairs; p++)
        {
            SyntheticVectors.RandomUnit(ref rng, x);
            SyntheticVectors.NearDuplicate(x, cosine, ref rng, y);
            hasher.ComputeProbes(x, probes);
            hasher.ComputeBucketKeys(y, keys);
            for (var t = 0; t < tables; t++)
            {
                var index = Array.IndexOf(probes, keys[t], t * maxProbes, maxProbes);
                if (index >= 0)
                {
                    hitsAt[index - (t * maxProbes)]++;
                }
            }
        }

        var rates = new double[maxProbes];
        long cumulative = 0;
        for (var t = 0; t < maxProbes; t++)
        {
            cumulative += hitsAt[t];
            rates[t] = (double)cumulative / ((long)pairs * tables);
        }

        return rates;
    }

    private static double CachedCrossPolytope(int n, double rho)
    {
        // Interpolate linearly on a grid: the integral is smooth in ρ and costs tens of milliseconds. Steps of 0.005
        // keep the error below 2·10⁻⁴ (h² p''/8 with p'' ≈ 50 at d′ = 1024); above 0.99, where p bends towards 1,
        // the grid is 0.001.
        var scaled = Math.Clamp(rho, -0.999, 1.0) * 1000;
        var step = scaled >= 990 ? 1 : 5;
        var lower = (int)Math.Floor(scaled / step) * step;
        var fraction = (scaled - lower) / step;
        var a = CrossPolytopeCache.GetOrAdd((n, lower), key => CollisionProbability.CrossPolytope(key.N, key.RhoMillis / 1000.0));
        if (fraction == 0)
        {
            return a;
        }

        var b = CrossPolytopeCache.GetOrAdd((n, lower + step), key => CollisionProbability.CrossPolytope(key.N, key.RhoMillis / 1000.0));
        return a + ((b - a) * fraction);
    }

    private static int TablesFor(double[] q, double recall)
    {
        for (var tables = 1; tables <= LshScheme.MaxTables; tables = tables < 16 ? tables + 1 : tables + Math.Max(1, tables / 32))
        {
            if (q.Average(x => Recall(x, tables)) >= recall)
            {
                // Step back to the fewest tables that reach the target.
                while (tables > 1 && q.Average(x => Recall(x, tables - 1)) >= recall)
                {
                    tables--;
                }

                return tables;
            }
        }

        return 0;
    }

    private static (float[]? Center, double Norm) CenterOf(PlanRequest request)
    {
        if (request.Sample is not { Count: > 0 } sample)
        {
            return (null, 0);
        }

        var mean = new double[request.Dimension];
        foreach (var v in sample)
        {
            var inverse = 1 / Math.Sqrt(VectorMath.SquaredNorm(v));
            for (var i = 0; i < mean.Length; i++)
            {
                mean[i] += v[i] * inverse / sample.Count;
            }
        }

        var norm = Math.Sqrt(mean.Sum(m => m * m));
        // E[x·y] over independent normalised vectors is |μ|²: centre only when unrelated vectors are visibly similar.
        return norm * norm > CentreWhenMeanCosineAbove ? (mean.Select(m => (float)m).ToArray(), norm) : (null, norm);
    }

    private static double[] NearDuplicateCosines(PlanRequest request, float[]? center)
    {
        if (request.Sample is not { Count: > 0 } sample || center is null)
        {
            return [request.Threshold];
        }

        var rng = new SplitMix64(request.Seed ^ 0x6E656172UL);
        var count = Math.Min(sample.Count, 400);
        var result = new double[count];
        var y = new float[request.Dimension];
        for (var i = 0; i < count; i++)
        {
            var x = sample[(int)(rng.Next() % (ulong)sample.Count)];
            SyntheticVectors.NearDuplicate(x, request.Threshold, ref rng, y);
            result[i] = CentredCosine(x, y, center);
        }

        return result;
    }

    /// <summary>
    /// Cosines of random pairs of sample vectors: as hashed (centred when <paramref name="center"/> is given, rounded to
    /// fiftieths, since each distinct value costs a cross-polytope integral) and as verified (the true cosine).
    /// </summary>
    private static (double Hashed, double Raw)[] UnrelatedPairs(PlanRequest request, float[]? center)
    {
        if (request.Sample is not { Count: > 1 } sample)
        {
            return [(0, 0)];
        }

        var rng = new SplitMix64(request.Seed ^ 0x756E72656CUL);
        var result = new (double, double)[200];
        for (var i = 0; i < result.Length; i++)
        {
            var a = sample[(int)(rng.Next() % (ulong)sample.Count)];
            var b = sample[(int)(rng.Next() % (ulong)sample.Count)];
            var raw = VectorMath.Cosine(a, b);
            result[i] = (Math.Round((center is null ? raw : CentredCosine(a, b, center)) * 50) / 50, raw);
        }

        return result;
    }

    /// <summary>The cosine of <c>a/|a| − μ</c> and <c>b/|b| − μ</c>: the similarity hashing sees when it centres.</summary>
    public static double CentredCosine(float[] a, float[] b, float[] center)
    {
        double ab = 0, aa = 0, bb = 0;
        var na = 1 / Math.Sqrt(VectorMath.SquaredNorm(a));
        var nb = 1 / Math.Sqrt(VectorMath.SquaredNorm(b));
        for (var i = 0; i < a.Length; i++)
        {
            var x = (a[i] * na) - center[i];
            var y = (b[i] * nb) - center[i];
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }

        return ab / Math.Sqrt(aa * bb);
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static void Validate(PlanRequest request)
    {
        static void Require(bool ok, string field, string reason)
        {
            if (!ok)
            {
                throw new ArgumentException($"{field}: {reason}", field);
            }
        }

        Require(request.Dimension is >= 1 and <= LshScheme.MaxDimension, "dimension", $"must be 1 … {LshScheme.MaxDimension}; got {request.Dimension}");
        Require(request.Threshold is > 0 and < 1, "threshold", $"must be in (0, 1); got {request.Threshold}");
        Require(request.Recall is > 0 and < 1, "recall", $"must be in (0, 1); got {request.Recall}");
        Require(request.Family is null or LshFamily.CrossPolytope or LshFamily.Hyperplane or LshFamily.SignBands, "family",
            $"{request.Family} is not a family the planner chooses among (cross-polytope, hyperplane, sign bands)");
        Require(request.MaxProbes is >= 1 and <= 64, "probes", $"must be 1 … 64; got {request.MaxProbes}");
        Require(request.StoredVectors >= 1, "vectors", $"must be at least 1; got {request.StoredVectors}");
        Require(request.MaxBytesPerVector is null or > 0, "max bytes per vector", $"must be positive; got {request.MaxBytesPerVector}");
        if (request.Sample is { } sample)
        {
            for (var i = 0; i < sample.Count; i++)
            {
                if (VectorValidator.Validate(sample[i], request.Dimension, $"sample[{i}]") is { } error)
                {
                    throw new ArgumentException(error.Message, "sample");
                }
            }
        }
    }
}
