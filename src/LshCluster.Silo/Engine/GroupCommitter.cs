using System.Threading.Channels;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The process's single writer: gathers the writes of many requests and shards into one transaction (group commit),
/// and completes each request only after the transaction holding it has committed. One small transaction per
/// request would cost more than the work it carries.
/// </summary>
/// <remarks>
/// Fail-stop (the embedded engine): after one failure every later batch fails too, since a later batch
/// may name vectors of the failed one and the process reloads anyway. Otherwise (a silo's coordinator) a
/// failure fails only the batches it concerns: a batch refused by a fence is taken out and the others of its group are
/// committed without it; any other failure fails its group, and the next group is tried afresh.
/// </remarks>
internal sealed class GroupCommitter : IAsyncDisposable
{
    private readonly IDedupStore _store;
    private readonly int _maxVectors;
    private readonly bool _failStop;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private volatile Exception? _failure;

    public GroupCommitter(IDedupStore store, int maxVectors, bool failStop = true)
    {
        _store = store;
        _maxVectors = maxVectors;
        _failStop = failStop;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Transactions committed so far.</summary>
    public long Commits { get; private set; }

    /// <summary>
    /// Queues a batch; the task completes when it is durable, or fails with the store's error. After one failure every
    /// later batch fails too (fail-stop): a later batch may name vectors of the failed one.
    /// </summary>
    public Task CommitAsync(WriteBatch batch)
    {
        if (_failure is { } failure)
        {
            return Task.FromException(failure);
        }

        var pending = new Pending(batch);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(GroupCommitter), "the engine is shutting down; nothing was written");
        }

        return pending.Done.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var group = new List<Pending>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            var vectors = 0;
            while (vectors < _maxVectors && reader.TryRead(out var pending))
            {
                group.Add(pending);
                vectors += pending.Batch.Vectors.Count + pending.Batch.Deletions.Count;
            }

            if (_failure is { } failure)
            {
                foreach (var p in group)
                {
                    p.Done.TrySetException(failure);
                }

                continue;
            }

            // Batches hashed with different schemes (a learning cluster fixing its own) are not written together: the
            // learning scheme's may be refused as a whole.
            foreach (var sameScheme in group.GroupBy(p => p.Batch.Scheme))
            {
                await CommitGroupAsync([.. sameScheme]).ConfigureAwait(false);
            }
        }
    }

    private async Task CommitGroupAsync(List<Pending> group)
    {
        var live = _failStop ? group : WithoutConflicts(group);
        while (live.Count > 0)
        {
            var merged = live.Count == 1 ? live[0].Batch : Merge(live);
            try
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                await _store.CommitAsync(merged).ConfigureAwait(false);
                Diagnostics.LshClusterMetrics.StorageWriteDuration.Record(Diagnostics.LshClusterMetrics.SecondsSince(started));
                if (merged.Vectors.Count > 0)
                {
                    Diagnostics.LshClusterMetrics.StorageBatchSize.Record(merged.Vectors.Count);
                }

                Commits++;
                foreach (var p in live)
                {
                    p.Done.TrySetResult();
                }

                return;
            }
            catch (StaleEpochException stale) when (!_failStop)
            {
                // Nothing was written: fail the batches the fence refused, and commit the others again without them.
                var refused = new ShardFence(stale.Shard, stale.HeldEpoch);
                foreach (var p in live.Where(p => p.Batch.Fences.Contains(refused)))
                {
                    p.Done.TrySetException(stale);
                }

                live = [.. live.Where(p => !p.Batch.Fences.Contains(refused))];
            }
            catch (Exception e)
            {
                if (_failStop)
                {
                    _failure = e;
                }

                foreach (var p in live)
                {
                    p.Done.TrySetException(e);
                }

                return;
            }
        }
    }

    /// <summary>
    /// The group without batches fenced by an older epoch of a shard than another batch of the group: epochs only grow,
    /// so those are stale for certain (they fail here), and one merged fence per shard is then right for every batch.
    /// </summary>
    private static List<Pending> WithoutConflicts(List<Pending> group)
    {
        var newest = new Dictionary<int, long>();
        foreach (var p in group)
        {
            foreach (var f in p.Batch.Fences)
            {
                newest[f.Shard] = Math.Max(f.Epoch, newest.GetValueOrDefault(f.Shard));
            }
        }

        var live = new List<Pending>(group.Count);
        foreach (var p in group)
        {
            ShardFence? stale = null;
            foreach (var f in p.Batch.Fences)
            {
                if (f.Epoch < newest[f.Shard])
                {
                    stale = f;
                    break;
                }
            }

            if (stale is { } old)
            {
                p.Done.TrySetException(new StaleEpochException(old.Shard, old.Epoch, newest[old.Shard]));
            }
            else
            {
                live.Add(p);
            }
        }

        return live;
    }

    private static WriteBatch Merge(List<Pending> group)
    {
        var fences = new Dictionary<int, long>();
        var vectors = new List<StoredVector>();
        var edges = new List<VerifiedEdge>();
        var deletions = new List<long>();
        foreach (var p in group)
        {
            foreach (var f in p.Batch.Fences)
            {
                fences[f.Shard] = f.Epoch;
            }

            vectors.AddRange(p.Batch.Vectors);
            edges.AddRange(p.Batch.Edges);
            deletions.AddRange(p.Batch.Deletions);
        }

        return new WriteBatch([.. fences.Select(f => new ShardFence(f.Key, f.Value))], vectors, edges)
        {
            Deletions = deletions,
            Scheme = group[0].Batch.Scheme,
            WithoutBucketLog = group.All(p => p.Batch.WithoutBucketLog),
            Events = [.. group.SelectMany(p => p.Batch.Events)],
        };
    }

    private sealed class Pending(WriteBatch batch)
    {
        public WriteBatch Batch { get; } = batch;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
