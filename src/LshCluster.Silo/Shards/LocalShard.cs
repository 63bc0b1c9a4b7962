using LshCluster.Runtime;

namespace LshCluster.Silo.Shards;

/// <summary>A shard activated in this process: its state and the mailbox that runs its turns one at a time.</summary>
internal sealed class LocalShard(Shard shard, Mailbox mailbox)
{
    public Shard Shard { get; } = shard;

    public Mailbox Mailbox { get; } = mailbox;

    /// <summary>False once sealed for a move: calls are answered "not owner" and go to the next owner.</summary>
    public volatile bool Active = true;

    /// <summary>Insert batches homed here that registered and have not yet committed (a seal waits for them).</summary>
    public int InFlight;
}
