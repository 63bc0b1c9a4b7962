namespace LshCluster.Storage;

/// <summary>
/// A write was refused because a shard it writes for now belongs to a newer epoch: another owner has claimed it.
/// Nothing of the batch was written; the caller must stop serving that shard.
/// </summary>
public sealed class StaleEpochException : Exception
{
    /// <summary>Creates the exception for <paramref name="shard"/>.</summary>
    public StaleEpochException(int shard, long heldEpoch, long currentEpoch)
        : base($"shard {shard}: this process holds epoch {heldEpoch} but the store is at epoch {currentEpoch}; another owner has taken the shard, so the write was refused")
    {
        Shard = shard;
        HeldEpoch = heldEpoch;
        CurrentEpoch = currentEpoch;
    }

    /// <summary>The shard that moved.</summary>
    public int Shard { get; }

    /// <summary>The epoch the refused write carried.</summary>
    public long HeldEpoch { get; }

    /// <summary>The epoch in the store.</summary>
    public long CurrentEpoch { get; }
}
