using LshCluster.Core.Ids;
using LshCluster.Grains.Shards;
using LshCluster.Silo.Diagnostics;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// Deleting vectors (ADR 0005): at its home shard, a vector is marked (no longer matched), its row leaves the store in
/// a transaction fenced by the home shard's epoch, and then it is forgotten — its id stays in the union-find forests
/// as a ghost, so clusters keep the merges it made and are the same after a reload.
/// </summary>
public sealed partial class DedupEngine
{
    /// <summary>
    /// Deletes vectors by external id. Each result says whether the id was stored (and now is not), or why it could not
    /// be deleted now (nothing changed for it). Returns once every deletion is durable. An id named twice is deleted
    /// once; the second result says what the first did.
    /// </summary>
    /// <exception cref="ArgumentException">An id is empty or too long, or there are too many; nothing was deleted.</exception>
    /// <exception cref="EngineStoppedException">The store refused a write; the engine takes no more work until restarted.</exception>
    public Task<IReadOnlyList<DeleteResult>> DeleteAsync(IReadOnlyList<string> externalIds, CancellationToken cancellationToken = default) =>
        DeleteAsync(externalIds, i => $"ids[{i}]", cancellationToken);

    /// <summary>As <see cref="DeleteAsync(IReadOnlyList{string}, CancellationToken)"/>; errors name id i as <paramref name="field"/>(i).</summary>
    internal async Task<IReadOnlyList<DeleteResult>> DeleteAsync(IReadOnlyList<string> externalIds, Func<int, string> field, CancellationToken cancellationToken)
    {
        ThrowIfFaulted();
        CheckDeleteRequest(externalIds, field);
        var deadline = _options.Time.GetUtcNow() + _options.RequestTimeout;
        using var pass = await EnterAsync(cancellationToken).ConfigureAwait(false); // not while a learned scheme is fixed
        var outcomes = (await DeleteAtHomeAsync([.. externalIds.Distinct(StringComparer.Ordinal)], deadline, cancellationToken).ConfigureAwait(false))
            .ToDictionary(r => r.ExternalId, StringComparer.Ordinal);
        return [.. externalIds.Select((id, i) => outcomes[id] with { Index = i, Error = outcomes[id].Error is { } e ? e with { Field = field(i) } : null })];
    }

    private void CheckDeleteRequest(IReadOnlyList<string> ids, Func<int, string> field)
    {
        if (ids.Count > _options.MaxBatchSize)
        {
            throw new ArgumentException($"ids: a request deletes at most {_options.MaxBatchSize} ids; got {ids.Count}. Split it.", "ids");
        }

        for (var i = 0; i < ids.Count; i++)
        {
            if (string.IsNullOrEmpty(ids[i]))
            {
                throw new ArgumentException($"{field(i)} is empty; name the vector to delete by its id. Nothing was deleted.", field(i));
            }

            if (ids[i].Length > _options.MaxExternalIdLength)
            {
                throw new ArgumentException($"{field(i)} has {ids[i].Length} characters; ids have at most {_options.MaxExternalIdLength}. Nothing was deleted.", field(i));
            }
        }
    }

    /// <summary>
    /// Deletes vectors: mark them at their homes, commit the deletions fenced by the homes' epochs, then forget them.
    /// Results carry each id's position.
    /// </summary>
    private async Task<List<DeleteResult>> DeleteAtHomeAsync(IReadOnlyList<string> ids, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var results = new DeleteResult?[ids.Count];
        var todo = Enumerable.Range(0, ids.Count).ToList();
        while (todo.Count > 0)
        {
            ThrowIfFaulted();
            var started = new List<(int Item, long Id)>();
            var busy = new List<(int Item, long Id)>();
            var epochs = new Dictionary<int, long>();

            // A call that fails (the engine is shutting down) must not strand the others' marks: those are committed first.
            Exception? failed = null;
            try
            {
                await ForEachShard(todo.Count, k => Scheme.HomeShard(ids[todo[k]]), async (shard, ks) =>
                {
                    var items = ks.Select(k => todo[k]).ToList();
                    var (epoch, outcomes) = await _shards.BeginDeleteAsync(shard, [.. items.Select(j => ids[j])]).ConfigureAwait(false);

                    lock (started)
                    {
                        epochs[shard] = epoch;
                        for (var n = 0; n < items.Count; n++)
                        {
                            switch (outcomes[n].Start)
                            {
                                case DeleteStart.Started:
                                    started.Add((items[n], outcomes[n].Id));
                                    break;
                                case DeleteStart.Busy:
                                    busy.Add((items[n], outcomes[n].Id));
                                    break;
                                default:
                                    results[items[n]] = new DeleteResult(items[n], ids[items[n]], false, null);
                                    break;
                            }
                        }
                    }
                }).ConfigureAwait(false);
            }
            catch (Exception e) when (started.Count > 0)
            {
                failed = e;
            }

            if (started.Count > 0)
            {
                await CommitDeletionsAsync(started, epochs, ids).ConfigureAwait(false);
                foreach (var (item, _) in started)
                {
                    results[item] = new DeleteResult(item, ids[item], true, null);
                }
            }

            if (failed is not null)
            {
                throw failed;
            }

            // An insert of the id still in flight, or another delete of it: ask again once it is settled — but answer a
            // little before the deadline, so that a caller on another silo gets the answer (with what was deleted)
            // rather than a timeout.
            todo = [.. busy.Select(b => b.Item)];
            if (todo.Count > 0)
            {
                var answerBy = deadline - AnswerMargin;
                var left = answerBy - _options.Time.GetUtcNow();
                var settled = busy.GroupBy(b => VectorId.HomeShard(b.Id)).Select(g => _shards.WaitSettledAsync(g.Key, [.. g.Select(b => b.Id)], cancellationToken));
                await Task.WhenAll(settled).WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, _options.Time, cancellationToken)
                    .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (_options.Time.GetUtcNow() >= answerBy || cancellationToken.IsCancellationRequested)
                {
                    foreach (var j in todo)
                    {
                        results[j] = new DeleteResult(j, ids[j], false, new ItemError("ids", "unavailable",
                            $"'{ids[j]}': its insert or another delete of it was still in flight at the deadline; it was not deleted, send it again"));
                    }

                    todo = [];
                }
            }
        }

        return [.. results.Select(r => r!)];
    }

    // How long before its deadline a delete that waits for an insert in flight gives up and answers.
    private static readonly TimeSpan AnswerMargin = TimeSpan.FromSeconds(1);

    private async Task CommitDeletionsAsync(List<(int Item, long Id)> started, Dictionary<int, long> epochs, IReadOnlyList<string> ids)
    {
        var homes = started.GroupBy(s => VectorId.HomeShard(s.Id)).ToList();
        var fences = homes.Select(h => new ShardFence(h.Key, epochs[h.Key])).ToList();
        try
        {
            await _committer.CommitAsync(new WriteBatch(fences, [], [])
            {
                Deletions = [.. started.Select(s => s.Id)],
                Events = [.. started.Select(s => new FeedEvent(FeedEventKind.Deletion, s.Id, ids[s.Item], false, 0, 0, 0, 0))],
            }).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // As for an insert: the marks are in memory only, so this process no longer matches the store.
            _fault = e;
            await Task.WhenAll(homes.Select(h => _shards.EndDeleteAsync(h.Key, [.. h.Select(s => s.Id)], committed: false))).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw new EngineStoppedException($"the store refused a write ({e.Message}); the vectors of this commit were not deleted. The engine stops taking work: restart it to reload from {_store.Description}", e);
        }

        // Durable: the next load does not see the vectors, whether or not these calls reach their shards.
        await Task.WhenAll(homes.Select(h => _shards.EndDeleteAsync(h.Key, [.. h.Select(s => s.Id)], committed: true))).ConfigureAwait(false);
        LshClusterMetrics.Deletions.Add(started.Count);
        try
        {
            await RemoveFromClustersAsync([.. started.Select(s => s.Id)]).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransient(e))
        {
            // A root's silo went away: its next activation loads its cluster from the store, without them.
        }
    }

    /// <summary>
    /// Removes deleted vectors from their clusters at every rung: at each one's root (one call per home shard), or, where
    /// the root was linked meanwhile, at its root's root.
    /// </summary>
    private async Task RemoveFromClustersAsync(long[] ids)
    {
        var deadline = Deadline();
        await Task.WhenAll(Enumerable.Range(0, _rungs.Length).Select(async rung =>
        {
            var removals = (await Task.WhenAll(ids.Select(async id => (Root: await FindAsync(id, rung, deadline).ConfigureAwait(false), Item: id))).ConfigureAwait(false)).ToList();
            await AtRootsAsync(removals, rung, deadline, (home, mine) => _shards.RemoveMembersAsync(home, rung, mine)).ConfigureAwait(false);
        })).ConfigureAwait(false);
    }
}
