using LshCluster.Core.Hashing;

namespace LshCluster.Core.Planning;

/// <summary>The planner's answer: the chosen scheme, what it predicts, and the alternatives it weighed.</summary>
/// <param name="Scheme">The scheme to create the cluster with.</param>
/// <param name="Chosen">The chosen configuration.</param>
/// <param name="Options">Every configuration evaluated, cheapest first.</param>
/// <param name="CenterNorm">|μ| of the normalised sample (0 without a sample).</param>
/// <param name="EffectiveThreshold">The median cosine of planted near-duplicates after centring (the threshold without centring).</param>
public sealed record LshPlan(
    LshScheme Scheme,
    PlanOption Chosen,
    IReadOnlyList<PlanOption> Options,
    double CenterNorm,
    double EffectiveThreshold);
