namespace LshCluster.Abstractions.Shards;

/// <summary>
/// A batch's bucket operations for one shard, packed (see the grains' codec): a view of the engine's own array, so that
/// a call within the silo copies nothing and one between silos writes the bytes once, where a list of records would be
/// encoded field by field.
/// </summary>
/// <param name="Operations">The operations, packed little-endian.</param>
/// <param name="MaxHamming">The most sketch bits a candidate may differ in.</param>
[GenerateSerializer, Immutable]
public sealed record BucketRequest([property: Id(0)] ReadOnlyMemory<byte> Operations, [property: Id(1)] int MaxHamming);

/// <summary>The candidates the operations found, packed as (item, candidate id) pairs.</summary>
/// <param name="Epoch">The epoch of the activation that served the call.</param>
/// <param name="Candidates">The candidates, packed little-endian.</param>
[GenerateSerializer, Immutable]
public sealed record BucketReply([property: Id(0)] long Epoch, [property: Id(1)] byte[] Candidates);

/// <summary>One step up a forest.</summary>
/// <param name="Epoch">The epoch of the activation that served the call.</param>
/// <param name="Node">The parent, or the node itself when it is a root.</param>
/// <param name="IsRoot">Whether <paramref name="Node"/> is a root.</param>
[GenerateSerializer, Immutable]
public readonly record struct AscendReply([property: Id(0)] long Epoch, [property: Id(1)] long Node, [property: Id(2)] bool IsRoot);

/// <summary>The outcome of a compare-and-set link.</summary>
/// <param name="Epoch">The epoch of the activation that served the call.</param>
/// <param name="Linked">False when the child was no longer a root (another union got there first).</param>
/// <param name="Members">When linked, the members of the child's cluster (packed 64-bit ids), taken from its entry: the
/// caller hands them to the parent's home (<see cref="IShardGrain.AbsorbAsync"/>).</param>
/// <param name="Tombstones">With them, deleted members still on their way to the child's entry (packed 64-bit ids).</param>
[GenerateSerializer, Immutable]
public sealed record LinkReply([property: Id(0)] long Epoch, [property: Id(1)] bool Linked, [property: Id(2)] byte[] Members, [property: Id(3)] byte[] Tombstones);

/// <summary>
/// Lists of ids, one per root: root k (of <see cref="Roots"/>, packed 64-bit) owns ids
/// <see cref="Starts"/>[k] … <see cref="Starts"/>[k + 1] − 1 of <see cref="Ids"/> (packed 32-bit starts, one more than roots).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record IdLists([property: Id(0)] byte[] Roots, [property: Id(1)] byte[] Starts, [property: Id(2)] byte[] Ids);

/// <summary>What adding members to their roots' clusters did.</summary>
/// <param name="Epoch">The epoch of the activation that served the call.</param>
/// <param name="Moved">The indexes (packed 32-bit) of the roots that are roots no more: their members were not added.</param>
[GenerateSerializer, Immutable]
public sealed record ClusterChangeReply([property: Id(0)] long Epoch, [property: Id(1)] byte[] Moved);

/// <summary>A page of a cluster's members.</summary>
/// <param name="IsRoot">False when the id asked for is not (any more) a root: no cluster has that id.</param>
/// <param name="Size">The members stored.</param>
/// <param name="Canonical">The first member (smallest id), 0 when there are none.</param>
/// <param name="Members">The page (packed 64-bit ids, ascending).</param>
/// <param name="Sample">Members spread evenly over the cluster (packed 64-bit ids, ascending).</param>
[GenerateSerializer, Immutable]
public sealed record ClusterPageReply([property: Id(0)] bool IsRoot, [property: Id(1)] int Size, [property: Id(2)] long Canonical, [property: Id(3)] byte[] Members, [property: Id(4)] byte[] Sample);

/// <summary>A silo's counters: the vectors and duplicates of the shards active there, and per rung their clusters.</summary>
[GenerateSerializer, Immutable]
public sealed record SiloCountersReply([property: Id(0)] long Vectors, [property: Id(1)] long Duplicates, [property: Id(2)] ClusterSummaryReply[] Rungs);

/// <summary>One rung's clusters of two or more members rooted at a silo's shards.</summary>
/// <param name="Clusters">How many.</param>
/// <param name="Clustered">How many vectors they hold.</param>
/// <param name="Largest">The size of the largest (0: none).</param>
/// <param name="Bins">Clusters per size bin: bin i holds sizes 2^i + 1 … 2^(i+1).</param>
[GenerateSerializer, Immutable]
public sealed record ClusterSummaryReply([property: Id(0)] int Clusters, [property: Id(1)] long Clustered, [property: Id(2)] int Largest, [property: Id(3)] int[] Bins);

/// <summary>
/// New vectors to register at their home shard: per item its id, its floats and its projection's floats (each a view of
/// the caller's own array: within a silo the message passes by reference and nothing is copied; between silos each is
/// written once as bytes), and <see cref="SquaredNorms"/> packed, one float per item.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record RegisterRequest(
    [property: Id(0)] string[] ExternalIds,
    [property: Id(1)] ReadOnlyMemory<byte>[] Values,
    [property: Id(2)] byte[] SquaredNorms,
    [property: Id(3)] ReadOnlyMemory<byte>[] Projections);

/// <summary>What registering found for each item (packed registrations, in request order).</summary>
/// <param name="Epoch">The epoch of the activation that served the call.</param>
/// <param name="Items">The registrations, packed little-endian.</param>
[GenerateSerializer, Immutable]
public sealed record RegisterReply([property: Id(0)] long Epoch, [property: Id(1)] byte[] Items);

/// <summary>
/// Exact-cosine checks at a shard: the new vectors (<see cref="Queries"/> headers packed; per query its floats and its
/// projection's floats, views of the caller's arrays as in <see cref="RegisterRequest"/>) and the (query, candidate)
/// pairs to compare, packed.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record VerifyRequest(
    [property: Id(0)] ReadOnlyMemory<byte> Queries,
    [property: Id(1)] ReadOnlyMemory<byte>[] Values,
    [property: Id(2)] ReadOnlyMemory<byte>[] Projections,
    [property: Id(3)] ReadOnlyMemory<byte> Checks,
    [property: Id(4)] float LowestRung,
    [property: Id(5)] float Screen);

/// <summary>The verified edges (packed) found by a <see cref="VerifyRequest"/>.</summary>
[GenerateSerializer, Immutable]
public sealed record VerifyReply([property: Id(0)] long Epoch, [property: Id(1)] byte[] Edges);

/// <summary>Ids (packed 64-bit) and, per id, what a wait found: the verdicts (packed) and, for each that failed, why.</summary>
[GenerateSerializer, Immutable]
public sealed record VerdictsReply([property: Id(0)] byte[] Verdicts, [property: Id(1)] string?[] Failures);

/// <summary>A vector as its home shard holds it, for queries.</summary>
[GenerateSerializer, Immutable]
public sealed record ShardRecord(
    [property: Id(0)] long Id,
    [property: Id(1)] string ExternalId,
    [property: Id(2)] byte[]? Values,
    [property: Id(3)] float SquaredNorm,
    [property: Id(4)] bool Acknowledged,
    [property: Id(5)] byte[] Verdict);

/// <summary>A shard's part of one rung's forest: (child, parent) pairs and deleted ids, packed 64-bit.</summary>
[GenerateSerializer, Immutable]
public sealed record ForestReply([property: Id(0)] byte[] Pairs, [property: Id(1)] byte[] Deleted);

/// <summary>The vectors homed at a shard and how many of them were given a duplicate verdict.</summary>
[GenerateSerializer, Immutable]
public readonly record struct CountsReply([property: Id(0)] int Vectors, [property: Id(1)] int Duplicates);

/// <summary>Every vector homed at a shard: ids (packed 64-bit) and external ids, in the same order.</summary>
[GenerateSerializer, Immutable]
public sealed record NamesReply([property: Id(0)] byte[] Ids, [property: Id(1)] string[] ExternalIds);

/// <summary>What beginning a delete did for each id (packed outcomes, in request order).</summary>
[GenerateSerializer, Immutable]
public sealed record BeginDeleteReply([property: Id(0)] long Epoch, [property: Id(1)] byte[] Outcomes);
