namespace LshCluster.Silo.Engine;

/// <summary>One vector to insert: the producer's id and the values.</summary>
public sealed record VectorInput(string ExternalId, float[] Values);

/// <summary>Whether a vector was new or a near-duplicate of one stored before.</summary>
public enum VerdictKind
{
    /// <summary>No stored vector reaches the lowest rung.</summary>
    New,

    /// <summary>At least one stored vector has cosine ≥ the lowest rung.</summary>
    Duplicate,
}

/// <summary>
/// The answer for one inserted vector. For a duplicate: the cluster it joined at <see cref="Rung"/> (the highest rung
/// its best match reaches) named by its canonical member (the cluster's first-registered vector, whose internal id
/// is the cluster id), and its best match with the exact cosine. <see cref="Repeated"/>: the external id had been
/// sent before, and this is the verdict given then; nothing was stored this time.
/// </summary>
public sealed record Verdict(
    string ExternalId,
    long VectorId,
    VerdictKind Kind,
    float? Rung,
    long? ClusterId,
    string? Canonical,
    string? BestMatch,
    float? BestCosine,
    bool Repeated);

/// <summary>A refused item: the field at fault, a stable code, and a message that says why. Nothing was stored for it.</summary>
public sealed record ItemError(string Field, string Code, string Message);

/// <summary>The outcome of item <see cref="Index"/> of a batch: a verdict or an error.</summary>
public sealed record InsertResult(int Index, Verdict? Verdict, ItemError? Error);

/// <summary>A stored vector close to a query vector.</summary>
public sealed record Neighbour(string ExternalId, long VectorId, float Cosine, long ClusterId);

/// <summary>A cluster at one rung: its id (the canonical member's internal id), canonical external id, size and a page of members.</summary>
public sealed record ClusterView(float Rung, long ClusterId, string Canonical, int Size, IReadOnlyList<ClusterMember> Members)
{
    /// <summary>
    /// The lowest cosine of a member to the canonical one, over <see cref="CoherenceSample"/> members: below the rung, the
    /// cluster is chained (it joins vectors through others, and some members do not resemble the canonical one).
    /// </summary>
    public float Coherence { get; init; } = 1;

    /// <summary>How many members <see cref="Coherence"/> was measured over: <see cref="Size"/> when exact, fewer when sampled.</summary>
    public int CoherenceSample { get; init; }

    /// <summary>When the core was asked for: how many members are within the rung of the canonical one (those then listed).</summary>
    public int? CoreSize { get; init; }

    /// <summary>Whether some member measured is further from the canonical one than the rung.</summary>
    public bool IsChained => Coherence < Rung;
}

/// <summary>A member of a cluster with its cosine to the canonical member.</summary>
public sealed record ClusterMember(string ExternalId, long VectorId, float CosineToCanonical);

/// <summary>Counts for one rung.</summary>
public sealed record RungStats(float Rung, int Clusters, int ClusteredVectors, int LargestCluster)
{
    /// <summary>The recall measured live on a sample of inserts at this rung (null before any was checked).</summary>
    public SampledRecall? SampledRecall { get; init; }
}

/// <summary>Engine-wide counts: vectors stored, duplicate verdicts, and clusters (size ≥ 2) per rung.</summary>
public sealed record EngineStats(int Vectors, int Duplicates, int Shards, IReadOnlyList<RungStats> Rungs);

/// <summary>Clusters whose size is <see cref="MinSize"/> … <see cref="MaxSize"/>.</summary>
public sealed record SizeBin(int MinSize, int MaxSize, int Clusters);

/// <summary>
/// The outcome of deleting id <see cref="ExternalId"/> (item <see cref="Index"/> of a request): <see cref="Deleted"/>
/// when it was stored and now is not; false when it was not stored, or with <see cref="Error"/> when it could not be
/// deleted now (nothing changed; send it again).
/// </summary>
public sealed record DeleteResult(int Index, string ExternalId, bool Deleted, ItemError? Error);
