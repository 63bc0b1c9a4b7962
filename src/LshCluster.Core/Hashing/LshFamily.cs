namespace LshCluster.Core.Hashing;

/// <summary>The locality-sensitive hash family of a scheme. Values are persisted.</summary>
public enum LshFamily : byte
{
    /// <summary>
    /// Cross-polytope LSH (Andoni et al. 2015): the index and sign of the largest coordinate of a pseudo-random
    /// rotation; k rotations per table.
    /// </summary>
    CrossPolytope = 1,

    /// <summary>Hyperplane LSH (Charikar's SimHash): the sign bits of k rotated coordinates per table.</summary>
    Hyperplane = 2,
}
