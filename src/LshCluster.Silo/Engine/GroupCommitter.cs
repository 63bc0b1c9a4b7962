using System.Threading.Channels;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The process's single writer: gathers the writes of many requests and shards into one transaction (group commit),
/// and completes each request only after the transaction holding it has committed. One small transaction per
/// request would cost more than the work it carries.
/// </summary>
internal sealed class GroupCommitter : IAsyncDisposable
{
    private readonly IDedupStore _store;
    private readonly int _maxVectors;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private volatile Exception? _failure;

    public GroupCommitter(IDedupStore store, int maxVectors)
    {
        _store = store;
        _maxVectors = maxVectors;
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

            var merged = group.Count == 1 ? group[0].Batch : Merge(group);
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
                foreach (var p in group)
                {
                    p.Done.TrySetResult();
                }
            }
            catch (Exception e)
            {
                _failure = e;
                foreach (var p in group)
                {
                    p.Done.TrySetException(e);
                }
            }
        }
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

        return new WriteBatch([.. fences.Select(f => new ShardFence(f.Key, f.Value))], vectors, edges) { Deletions = deletions };
    }

    private sealed class Pending(WriteBatch batch)
    {
        public WriteBatch Batch { get; } = batch;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
