namespace LshCluster.Abstractions.Shards;

/// <summary>
/// The verification relay of one silo (keyed by the silo's address, and active there): a batch's checks for every
/// shard on that silo arrive in one message that carries each new vector once, however many of those shards hold its
/// candidates, and are handed to the shard grains in-process. Sent shard by shard, a vector with candidates at fifty
/// shards would cross the network fifty times.
/// </summary>
public interface ISiloVerifierGrain : IGrainWithStringKey
{
    /// <summary>Runs each shard's checks at that shard; the reply carries every edge found (packed), and no epoch.</summary>
    Task<VerifyReply> VerifyAsync(SiloVerifyRequest request);
}

/// <summary>
/// One silo's part of a batch's verification: the queries once (headers packed; each vector's and projection's floats)
/// and, for each shard listed, its checks (packed (query, candidate) pairs indexing those queries).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SiloVerifyRequest(
    [property: Id(0)] ReadOnlyMemory<byte> Queries,
    [property: Id(1)] ReadOnlyMemory<byte>[] Values,
    [property: Id(2)] ReadOnlyMemory<byte>[] Projections,
    [property: Id(3)] int[] Shards,
    [property: Id(4)] ReadOnlyMemory<byte>[] Checks,
    [property: Id(5)] float LowestRung,
    [property: Id(6)] float Screen);
