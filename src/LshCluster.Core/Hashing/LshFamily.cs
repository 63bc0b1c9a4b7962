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

    /// <summary>
    /// Banded sign bits of shared rotations (random-projection hyperplane LSH made structured): a few rotations of the
    /// vector give a pool of sign bits, and table t takes the k bits t·k … t·k + k − 1 of it, so L tables cost
    /// ⌈L·k / d′⌉ rotations in all instead of a rotation or more per table. Persisted from scheme format version 2.
    /// </summary>
    SignBands = 3,

    /// <summary>
    /// No hashing yet (ADR 0009): the scheme of a cluster created without a sample, while it learns its plan from its
    /// first vectors. Every vector goes to the one bucket of one table, so each insert is checked against every stored
    /// vector (a brute force through the sketch filter); once enough are stored, the cluster plans from them and fixes a
    /// scheme of another family. Persisted from scheme format version 3.
    /// </summary>
    Learning = 4,
}
