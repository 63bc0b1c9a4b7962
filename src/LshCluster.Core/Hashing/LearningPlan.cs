using System.Globalization;

namespace LshCluster.Core.Hashing;

/// <summary>
/// What a learning scheme (<see cref="LshFamily.Learning"/>) plans with once it has learned: how many stored vectors to
/// learn from, and what the plan must achieve. Persisted in the scheme (format version 3), so that whichever silo stores
/// the <see cref="LearnFrom"/>th vector plans exactly as the user asked at <c>create</c>.
/// </summary>
/// <param name="LearnFrom">N: the stored vectors the plan is made from (they are its sample), 1 … 1,000,000.</param>
/// <param name="Recall">The planned chance of finding a pair at exactly the lowest rung, in (0, 1).</param>
/// <param name="MaxProbes">The most probes per table the plan may use, 1 … <see cref="LshScheme.MaxProbes"/>.</param>
/// <param name="ExpectedVectors">The collection size the plan is made for, at least 1.</param>
/// <param name="MaxBytesPerVector">The most resident bytes a stored vector may take with the plan, or null for no limit.</param>
public sealed record LearningPlan(int LearnFrom, double Recall, int MaxProbes, long ExpectedVectors, double? MaxBytesPerVector = null)
{
    /// <summary>The default N: enough to centre the data and measure its buckets, a brute force that stays cheap.</summary>
    public const int DefaultLearnFrom = 2000;

    /// <summary>The message naming the first invalid field, or null when every field is valid.</summary>
    public string? Problem() =>
        LearnFrom is < 1 or > 1_000_000 ? $"learnFrom: must be 1 … 1,000,000 vectors; got {LearnFrom}"
        : !(Recall > 0 && Recall < 1) ? $"recall: must be in (0, 1); got {Recall.ToString(CultureInfo.InvariantCulture)}"
        : MaxProbes is < 1 or > LshScheme.MaxProbes ? $"maxProbes: must be 1 … {LshScheme.MaxProbes}; got {MaxProbes}"
        : ExpectedVectors < 1 ? $"expectedVectors: must be at least 1; got {ExpectedVectors}"
        : MaxBytesPerVector is { } b && !(b > 0 && double.IsFinite(b)) ? $"maxBytesPerVector: must be a positive number of bytes; got {b.ToString(CultureInfo.InvariantCulture)}"
        : null;
}
