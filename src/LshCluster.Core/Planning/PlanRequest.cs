using LshCluster.Core.Hashing;

namespace LshCluster.Core.Planning;

/// <summary>What the planner is asked to achieve.</summary>
public sealed record PlanRequest
{
    /// <summary>Values per vector.</summary>
    public required int Dimension { get; init; }

    /// <summary>The lowest cosine that must be found (the lowest rung).</summary>
    public required double Threshold { get; init; }

    /// <summary>The probability of finding a pair at exactly the threshold, e.g. 0.99.</summary>
    public double Recall { get; init; } = 0.99;

    /// <summary>The hash family; null lets the planner weigh cross-polytope against sign bands and keep the cheaper.</summary>
    public LshFamily? Family { get; init; }

    /// <summary>Most probes per table the planner may choose (1 disables multiprobe).</summary>
    public int MaxProbes { get; init; } = 8;

    /// <summary>The collection size at which candidates per insert are estimated.</summary>
    public long StoredVectors { get; init; } = 1_000_000;

    /// <summary>Representative vectors (optional): used to centre anisotropic data and to estimate candidates.</summary>
    public IReadOnlyList<float[]>? Sample { get; init; }

    /// <summary>The rungs of the scheme to build; defaults to the threshold alone.</summary>
    public IReadOnlyList<float>? Rungs { get; init; }

    /// <summary>Virtual shards of the scheme to build.</summary>
    public int ShardCount { get; init; } = 1024;

    /// <summary>
    /// The most resident memory a stored vector may take with the plan (its values, record and bucket entries), as the
    /// planner predicts it (<see cref="LshPlanner.PredictedBytesPerVector"/>); null: no limit. More tables find
    /// near-duplicates with fewer candidates each, but every table costs memory per vector.
    /// </summary>
    public double? MaxBytesPerVector { get; init; }

    /// <summary>Seed of the scheme to build, and of the planner's Monte Carlo runs.</summary>
    public ulong Seed { get; init; } = LshScheme.DefaultSeed;
}
