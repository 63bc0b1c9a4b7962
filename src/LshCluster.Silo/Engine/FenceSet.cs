using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The epochs of every shard activation whose memory a batch changed (its homes' records, its bucket shards' entries,
/// the roots it linked), as the activations' replies named them. The commit is fenced by all of them: if any of those
/// activations has been replaced since (the grain moved, or its silo died), the new one loaded the store without this
/// batch's changes, so the batch must not commit. Safe to add to from concurrent replies.
/// </summary>
internal sealed class FenceSet
{
    private readonly Dictionary<int, long> _epochs = [];
    private StaleEpochException? _conflict;

    /// <summary>Records that shard <paramref name="shard"/>'s activation at <paramref name="epoch"/> changed for this batch (0: not known, ignored).</summary>
    public void Add(int shard, long epoch)
    {
        if (epoch == 0)
        {
            return; // the mailbox router's replies name no epoch: the old silo path fences homes only
        }

        lock (_epochs)
        {
            if (_epochs.TryGetValue(shard, out var known) && known != epoch)
            {
                // Two activations of one shard served this batch: the older one's changes are lost with it.
                _conflict ??= new StaleEpochException(shard, Math.Min(known, epoch), Math.Max(known, epoch));
                epoch = Math.Max(known, epoch);
            }

            _epochs[shard] = epoch;
        }
    }

    /// <summary>The fences to commit under.</summary>
    /// <exception cref="StaleEpochException">A shard answered this batch from two activations; nothing may be committed.</exception>
    public List<ShardFence> ToFences()
    {
        lock (_epochs)
        {
            if (_conflict is { } conflict)
            {
                throw conflict;
            }

            return [.. _epochs.Select(e => new ShardFence(e.Key, e.Value))];
        }
    }
}
