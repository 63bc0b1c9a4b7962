using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace LshCluster.Grains.Placement;

/// <summary>
/// Places a grain keyed by a silo's address (<see cref="SiloAddress.ToParsableString"/>) on that silo, or on any
/// compatible silo when that one is gone (a caller whose view lags; the grain then still works, only not locally).
/// </summary>
[GenerateSerializer, Immutable]
public sealed class SiloKeyPlacement : PlacementStrategy
{
    /// <summary>The one instance.</summary>
    public static SiloKeyPlacement Instance { get; } = new();
}

/// <summary>Marks a grain placed by <see cref="SiloKeyPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloKeyPlacementAttribute : PlacementAttribute
{
    /// <summary>Places the grain by <see cref="SiloKeyPlacement"/>.</summary>
    public SiloKeyPlacementAttribute()
        : base(SiloKeyPlacement.Instance)
    {
    }
}

/// <summary>Puts the activation on the silo its key names.</summary>
internal sealed class SiloKeyPlacementDirector : IPlacementDirector
{
    /// <inheritdoc />
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        var key = target.GrainIdentity.Key.ToString();
        return Task.FromResult(silos.FirstOrDefault(s => s.ToParsableString() == key) ?? silos[Random.Shared.Next(silos.Length)]);
    }
}
