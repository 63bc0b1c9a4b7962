namespace LshCluster.Abstractions.Shards;

/// <summary>
/// A batch's bucket operations for one shard, packed (see the grains' codec): one copy to send, none to read, where a
/// list of records would be encoded field by field.
/// </summary>
/// <param name="Operations">The operations, packed little-endian.</param>
/// <param name="MaxHamming">The most sketch bits a candidate may differ in.</param>
[GenerateSerializer, Immutable]
public sealed record BucketRequest([property: Id(0)] byte[] Operations, [property: Id(1)] int MaxHamming);

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
[GenerateSerializer, Immutable]
public readonly record struct LinkReply([property: Id(0)] long Epoch, [property: Id(1)] bool Linked);
