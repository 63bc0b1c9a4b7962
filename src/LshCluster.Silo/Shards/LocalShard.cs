using LshCluster.Grains.Shards;
using LshCluster.Runtime;

namespace LshCluster.Silo.Shards;

/// <summary>A shard activated in this process: its state and the mailbox that runs its turns one at a time.</summary>
internal sealed class LocalShard(Shard shard, Mailbox mailbox)
{
    public Shard Shard { get; } = shard;

    public Mailbox Mailbox { get; } = mailbox;

    /// <summary>
    /// True while a move hands the shard away: new inserts homed here are refused (they go to the next owner), but
    /// the calls of inserts already under way are still served so that they can reach their commit.
    /// </summary>
    public volatile bool Sealing;

    /// <summary>False once released: every call is answered "not owner" and goes to the next owner.</summary>
    public volatile bool Active = true;

    /// <summary>Insert batches homed here that registered and have not yet committed (a seal waits for them).</summary>
    public int InFlight;
}
