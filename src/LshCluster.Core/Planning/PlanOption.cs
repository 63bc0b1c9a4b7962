using LshCluster.Core.Hashing;

namespace LshCluster.Core.Planning;

/// <summary>One configuration the planner evaluated.</summary>
/// <param name="HashesPerTable">k.</param>
/// <param name="Tables">L, the fewest tables that reach the recall target.</param>
/// <param name="Probes">T.</param>
/// <param name="TableHitProbability">Chance that one table (with its T probes) finds a pair at the threshold.</param>
/// <param name="PredictedRecall">Chance that at least one of the L tables finds a pair at the threshold.</param>
/// <param name="CandidatesPerInsert">
/// Expected unrelated vectors per insert at the planned collection size that share a bucket with it and pass the sketch
/// filter: each costs an exact check at its home.
/// </param>
/// <param name="CostNanoseconds">The cost model's estimate of work per insert.</param>
/// <param name="Centred">Whether hashing centres the vectors (x/|x| − μ) in this configuration.</param>
/// <param name="Family">The hash family.</param>
/// <param name="BucketEntriesPerInsert">Expected bucket entries of unrelated vectors an insert's lookups walk past (summed over tables and probes).</param>
/// <param name="Rotations">Rotations per vector (besides the sketch's).</param>
/// <param name="BytesPerVector">Predicted resident memory per stored vector (<see cref="LshPlanner.PredictedBytesPerVector"/>).</param>
public sealed record PlanOption(
    int HashesPerTable,
    int Tables,
    int Probes,
    double TableHitProbability,
    double PredictedRecall,
    double CandidatesPerInsert,
    double CostNanoseconds,
    bool Centred = false,
    LshFamily Family = LshFamily.CrossPolytope,
    double BucketEntriesPerInsert = 0,
    int Rotations = 0,
    double BytesPerVector = 0);
