namespace LshCluster.Runtime.Membership;

/// <summary>
/// The linearizable table that arbitrates who is in the cluster and who owns which shard (as Orleans' ADO.NET
/// clustering does). Every judgement of time is made with the database's clock, never a silo's own.
/// </summary>
public interface IMembershipStore
{
    /// <summary>Registers a new incarnation at <paramref name="address"/> with a lease of <paramref name="lease"/>; returns it.</summary>
    Task<SiloIdentity> JoinAsync(string address, TimeSpan lease, CancellationToken cancellationToken = default);

    /// <summary>
    /// Extends the lease by <paramref name="lease"/> from now. False when it had already lapsed (or the silo left):
    /// the silo is dead to the others and must stop serving.
    /// </summary>
    Task<bool> RenewAsync(SiloIdentity silo, TimeSpan lease, CancellationToken cancellationToken = default);

    /// <summary>Marks the silo as draining: it keeps its lease but is no longer a desired owner.</summary>
    Task SetDrainingAsync(SiloIdentity silo, CancellationToken cancellationToken = default);

    /// <summary>Leaves: releases every shard the silo still owns and ends its lease now.</summary>
    Task LeaveAsync(SiloIdentity silo, CancellationToken cancellationToken = default);

    /// <summary>Every incarnation that has not been forgotten, judged alive or not by the database clock.</summary>
    Task<IReadOnlyList<SiloEntry>> ReadSilosAsync(CancellationToken cancellationToken = default);

    /// <summary>Every shard's lease, in shard order.</summary>
    Task<IReadOnlyList<ShardOwnership>> ReadShardOwnersAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims those of <paramref name="shards"/> that are free — released, owned by a dead silo, or by this one —
    /// incrementing each one's epoch (which fences every write of a previous owner). Returns the new epochs of the
    /// shards claimed; the others are left alone. Claims nothing when this silo's own lease has lapsed.
    /// </summary>
    Task<IReadOnlyDictionary<int, long>> TryClaimShardsAsync(SiloIdentity silo, IReadOnlyList<int> shards, CancellationToken cancellationToken = default);

    /// <summary>Shards pinned by an admin to a silo address (shard → address); placement honours them while that silo is active.</summary>
    Task<IReadOnlyDictionary<int, string>> ReadPinsAsync(CancellationToken cancellationToken = default);

    /// <summary>Pins <paramref name="shards"/> to the silo at <paramref name="address"/>, or unpins them when it is null.</summary>
    Task PinShardsAsync(IReadOnlyList<int> shards, string? address, CancellationToken cancellationToken = default);

    /// <summary>Releases <paramref name="shards"/> that this silo owns, so that their desired owner can claim them.</summary>
    Task ReleaseShardsAsync(SiloIdentity silo, IReadOnlyList<int> shards, CancellationToken cancellationToken = default);
}
