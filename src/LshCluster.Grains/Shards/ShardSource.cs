using System.Diagnostics;
using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Storage;
using Microsoft.Extensions.Logging;

namespace LshCluster.Grains.Shards;

/// <summary>Where a shard grain's activation gets its shard: claimed in the store (a new epoch) and loaded.</summary>
internal interface IShardSource
{
    /// <summary>The shard <paramref name="index"/>, claimed for <paramref name="owner"/> at a new epoch and loaded.</summary>
    Task<Shard> ActivateAsync(int index, string owner, CancellationToken cancellationToken);
}

/// <summary>
/// Claims shards and loads them from the store as their grains activate (a silo of a cluster: its shards come and go).
/// Activations that arrive while a load runs are loaded together next, each shard from its own rows and the group's
/// forests from one pass over the ids and edges (a silo starting, or taking over a dead one's share, loads in a few
/// groups). One group loads at a time, so the database sees a handful of connections however many grains activate at
/// once.
/// </summary>
internal sealed class StoreShardSource(IDedupStore store, TimeProvider time, VectorDirectory directory, ILogger<StoreShardSource> log) : IShardSource
{
    // Per-shard reads run this many at a time within a group.
    private const int ConcurrentLoads = 4;

    private readonly Lock _gate = new();
    private List<Request> _waiting = [];
    private bool _loading;
    private LshScheme? _scheme;

    public Task<Shard> ActivateAsync(int index, string owner, CancellationToken cancellationToken)
    {
        var request = new Request(index, owner);
        bool start;
        lock (_gate)
        {
            _waiting.Add(request);
            start = !_loading;
            _loading = true;
        }

        if (start)
        {
            _ = Task.Run(LoadWaitingAsync, CancellationToken.None);
        }

        // An activation given up (cancelled) leaves the queue as such, so that the next activation of the shard is not
        // taken for a second one.
        var registration = cancellationToken.Register(static r => ((Request)r!).Done.TrySetCanceled(), request);
        _ = request.Done.Task.ContinueWith(_ => registration.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return request.Done.Task;
    }

    private async Task LoadWaitingAsync()
    {
        while (true)
        {
            List<Request> group;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _loading = false;
                    return;
                }

                (group, _waiting) = (_waiting, []);
            }

            try
            {
                await LoadAsync(group).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                foreach (var request in group)
                {
                    request.Done.TrySetException(e);
                }
            }
        }
    }

    private async Task LoadAsync(List<Request> group)
    {
        // A learning scheme is read again at every load: the cluster may have fixed it since (ADR 0009), and the shard
        // must load the fixed scheme's buckets.
        var scheme = _scheme is { IsLearning: false } known
            ? known
            : _scheme = await store.ReadSchemeAsync().ConfigureAwait(false)
                ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create)");

        // Verdicts naming vectors that never got stored are derived again only for vectors old enough that no batch
        // can still be committing them (twice the longest a request may run).
        var orphansBefore = VectorId.Create(Math.Max(0, (long)(time.GetUtcNow() - TimeSpan.FromMinutes(2) - VectorId.Epoch).TotalMilliseconds), 0, 0);
        var shards = new Shard?[scheme.ShardCount];
        var served = new List<Request>();
        foreach (var byOwner in group.GroupBy(r => r.Owner))
        {
            var wanted = new List<Request>();
            foreach (var request in byOwner.Where(r => !r.Done.Task.IsCompleted))
            {
                if (request.Index < 0 || request.Index >= scheme.ShardCount)
                {
                    request.Done.TrySetException(new ArgumentOutOfRangeException("index", request.Index, $"shard {request.Index} does not exist: the cluster has {scheme.ShardCount} shards"));
                }
                else if (wanted.FindIndex(w => w.Index == request.Index) is var earlier and >= 0)
                {
                    // The later activation of a shard is the live one (the earlier was given up without being cancelled).
                    wanted[earlier].Done.TrySetException(new InvalidOperationException($"shard {request.Index}: a later activation superseded this one"));
                    wanted[earlier] = request;
                }
                else if (shards[request.Index] is null)
                {
                    wanted.Add(request);
                }
                else
                {
                    request.Done.TrySetException(new InvalidOperationException($"shard {request.Index} is being activated already"));
                }
            }

            served.AddRange(wanted);

            var epochs = await store.ClaimShardsAsync(byOwner.Key, [.. wanted.Select(r => r.Index)]).ConfigureAwait(false);
            for (var i = 0; i < wanted.Count; i++)
            {
                shards[wanted[i].Index] = new Shard(wanted[i].Index, scheme.Rungs.Count, time, directory) { Epoch = epochs[i] };
            }
        }

        var loading = shards.OfType<Shard>().ToList();
        var clock = Stopwatch.StartNew();
        await ShardLoader.LoadShardsAsync(store, scheme, loading, orphansBefore, ConcurrentLoads, CancellationToken.None).ConfigureAwait(false);
        log.LogInformation("loaded {Shards} shards ({Vectors} home vectors) in {Seconds:F1} s", loading.Count, loading.Sum(s => s.Records().Count()), clock.Elapsed.TotalSeconds);

        foreach (var request in served)
        {
            request.Done.TrySetResult(shards[request.Index]!);
        }
    }

    private sealed class Request(int index, string owner)
    {
        public int Index { get; } = index;

        public string Owner { get; } = owner;

        public TaskCompletionSource<Shard> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>
/// Shards claimed and loaded together before the silo started (the embedded engine: one process owns them all, and one
/// pass over the store loads them faster than a pass per shard). Each is handed out once; an activation after that
/// (the grain was deactivated) claims and loads afresh.
/// </summary>
internal sealed class PreloadedShardSource(Shard?[] shards, StoreShardSource fallback) : IShardSource
{
    public Task<Shard> ActivateAsync(int index, string owner, CancellationToken cancellationToken)
    {
        var shard = index >= 0 && index < shards.Length ? Interlocked.Exchange(ref shards[index], null) : null;
        return shard is not null ? Task.FromResult(shard) : fallback.ActivateAsync(index, owner, cancellationToken);
    }
}
