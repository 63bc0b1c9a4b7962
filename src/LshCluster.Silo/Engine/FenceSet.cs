using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The epochs of every shard activation whose memory a batch changed (its homes' records, its bucket shards' entries,
/// the roots it linked), as the activations' replies named them. The commit is fenced by all of them: if any of those
/// activations has been replaced since (the grain moved, or its silo died), the new one loaded the store without this
/// batch's changes, so the batch must not commit. With <paramref name="homesOnly"/> (the embedded engine, whose
/// activations never move) only the homes fence the commit: in PostgreSQL each fence is a row lock per commit. It also
/// keeps every shard a link was sent to, answered or not: what must reload if the batch is not committed. Safe to add
/// to from concurrent calls.
/// </summary>
internal sealed class FenceSet(bool homesOnly)
{
    private readonly Dictionary<int, long> _epochs = [];
    private readonly HashSet<int> _touched = [];
    private StaleEpochException? _conflict;

    /// <summary>Every shard sent a union-find link, or the members of a linked cluster, for this batch.</summary>
    public int[] Touched
    {
        get
        {
            lock (_touched)
            {
                return [.. _touched];
            }
        }
    }

    /// <summary>Every shard whose memory the batch may have changed: the activations that answered, and those sent links.</summary>
    public int[] Changed
    {
        get
        {
            lock (_epochs)
            {
                lock (_touched)
                {
                    return [.. _epochs.Keys.Union(_touched)];
                }
            }
        }
    }

    /// <summary>Records that a link (or the members a link moved) is about to be sent to <paramref name="shard"/>.</summary>
    public void Touch(int shard)
    {
        lock (_touched)
        {
            _touched.Add(shard);
        }
    }

    /// <summary>Records the epoch of the activation that registered this batch's vectors at their home <paramref name="shard"/>.</summary>
    public void AddHome(int shard, long epoch) => Add(shard, epoch);

    /// <summary>Records the epoch of an activation whose buckets or links this batch changed (ignored when homes alone fence).</summary>
    public void AddChanged(int shard, long epoch)
    {
        if (!homesOnly)
        {
            Add(shard, epoch);
        }
    }

    private void Add(int shard, long epoch)
    {
        if (epoch == 0)
        {
            return; // no activation claimed this shard (epochs start at 1): nothing to fence
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
