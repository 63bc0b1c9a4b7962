using LshCluster.Core.Hashing;
using LshCluster.Core.Planning;
using Microsoft.Extensions.Logging;

namespace LshCluster.Silo.Engine;

/// <summary>
/// A cluster created without a sample learns its hashing from its first vectors (ADR 0009): while its scheme is
/// learning, every vector shares one bucket, so each insert is checked against every stored vector; once
/// <see cref="LearningPlan.LearnFrom"/> are stored, the engine that notices plans from them and fixes the scheme in one
/// transaction that also rewrites their bucket keys and takes a new epoch of every shard, then every shard loads again.
/// </summary>
public sealed partial class DedupEngine
{
    // How often a coordinator of a learning cluster reads the stored scheme, to notice another silo's fix.
    private static readonly TimeSpan SchemeRecheck = TimeSpan.FromMilliseconds(250);

    private readonly SwitchGate _gate = new();
    private readonly TaskCompletionSource _learned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private int _learningRuns;
    private long _learningAdmitted;
    private long _learnAgainAt;
    private Task _learning = Task.CompletedTask;
    private long _schemeCheckedAt;

    /// <summary>Why the last attempt to fix a learned scheme failed (it is tried again as more vectors arrive), or null.</summary>
    public Exception? LearningFailure { get; private set; }

    /// <summary>Completes once the cluster's scheme is fixed: at once for a scheme created fixed.</summary>
    public Task Learned => _learned.Task;

    /// <summary>The scheme and its hasher, replaced together when a learning cluster fixes its hashing.</summary>
    internal sealed record Hashing(LshScheme Scheme, LshHasher Hasher);

    /// <summary>
    /// A request's pass through the embedded engine's gate while the scheme is learning (the fix runs alone); no pass is
    /// needed once it is fixed, nor on a coordinator, whose batches the fix fences out instead.
    /// </summary>
    private ValueTask<SwitchGate.Pass> EnterAsync(CancellationToken cancellationToken) =>
        _hashing.Scheme.IsLearning && !_coordinator ? _gate.EnterAsync(cancellationToken) : default;

    /// <summary>
    /// The hashing to use now. A coordinator of a learning cluster reads the stored scheme at most every
    /// <see cref="SchemeRecheck"/>, so that it follows a fix made on another silo.
    /// </summary>
    private async ValueTask<Hashing> CurrentHashingAsync(CancellationToken cancellationToken)
    {
        var hashing = _hashing;
        if (!hashing.Scheme.IsLearning || !_coordinator
            || _options.Time.GetElapsedTime(Interlocked.Read(ref _schemeCheckedAt)) < SchemeRecheck)
        {
            return hashing;
        }

        return await ReadStoredSchemeAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Takes the stored scheme if the cluster has fixed it since this engine read it.</summary>
    private async Task<Hashing> ReadStoredSchemeAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _schemeCheckedAt, _options.Time.GetTimestamp());
        var stored = await _store.ReadSchemeAsync(cancellationToken).ConfigureAwait(false);
        if (stored is not null && !stored.IsLearning && _hashing.Scheme.IsLearning)
        {
            Fix(new Hashing(stored, new LshHasher(stored)));
        }

        return _hashing;
    }

    private void Fix(Hashing hashing)
    {
        _hashing = hashing;
        _learned.TrySetResult();
    }

    /// <summary>
    /// The embedded engine, as a learning batch is admitted: once the vectors admitted reach N (or, after a failed
    /// attempt, the count it waits for), the fix is started at once (it waits for the batches under way and holds back
    /// the next), rather than after the next commit, when more batches would already be under way as brute forces.
    /// </summary>
    private void CountAdmitted(int vectors)
    {
        if (_silo is not null && _hashing.Scheme.Learning is { } plan
            && Interlocked.Add(ref _learningAdmitted, vectors) >= Math.Max(plan.LearnFrom, Interlocked.Read(ref _learnAgainAt)))
        {
            LearnWhenReady(countFirst: false);
        }
    }

    /// <summary>
    /// After a commit of a learning cluster, or (<paramref name="countFirst"/> false) an admission that reached N: fixes
    /// the scheme in the background once enough vectors are stored.
    /// </summary>
    private void LearnWhenReady(bool countFirst = true)
    {
        if (!_hashing.Scheme.IsLearning || Interlocked.CompareExchange(ref _learningRuns, 1, 0) != 0)
        {
            return;
        }

        _learning = Task.Run(async () =>
        {
            try
            {
                if (_silo is null)
                {
                    await LearnIfEnoughAsync().ConfigureAwait(false);
                }
                else if (!countFirst || await EnoughToLearnAsync().ConfigureAwait(false) is not null)
                {
                    // Counted first, so that a commit short of N does not hold the embedded engine's requests back.
                    await _gate.RunAloneAsync(LearnIfEnoughAsync).ConfigureAwait(false);
                }
            }
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                // The engine is closing.
            }
            catch (Exception e)
            {
                _options.Log.LogWarning(e, "could not count the stored vectors of the learning cluster");
            }
            finally
            {
                Volatile.Write(ref _learningRuns, 0);
            }
        });
    }

    /// <summary>The stored vectors to learn from, or null while there are too few (or too few more since a failed attempt).</summary>
    private async Task<long?> EnoughToLearnAsync()
    {
        var count = await _store.CountVectorsAsync(_stopping.Token).ConfigureAwait(false);
        return _hashing.Scheme.Learning is { } plan && count >= plan.LearnFrom && count >= Interlocked.Read(ref _learnAgainAt) ? count : null;
    }

    private async Task LearnIfEnoughAsync()
    {
        if (await EnoughToLearnAsync().ConfigureAwait(false) is not { } count || _hashing.Scheme.Learning is not { } plan)
        {
            return;
        }

        try
        {
            await PlanAndFixAsync(_hashing, plan).ConfigureAwait(false);
            LearningFailure = null;
        }
        catch (Exception e) when (!_stopping.IsCancellationRequested)
        {
            // Planning refused (say, no plan fits the memory limit) or the store failed: keep learning, and try again
            // once the store has grown by half, with more to learn from.
            LearningFailure = e;
            Interlocked.Exchange(ref _learnAgainAt, count + (count / 2) + 1);
            _options.Log.LogWarning(e, "could not fix the learned scheme from {Count} vectors; inserts stay exact (a brute force) until it is", count);
        }
    }

    private async Task PlanAndFixAsync(Hashing learning, LearningPlan plan)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var sample = new List<float[]>(plan.LearnFrom);
        await foreach (var v in _store.ReadVectorsAsync(_stopping.Token).ConfigureAwait(false))
        {
            sample.Add(v.Values);
            if (sample.Count == plan.LearnFrom)
            {
                break;
            }
        }

        var planned = await Task.Run(() => LshPlanner.PlanLearned(learning.Scheme, sample), _stopping.Token).ConfigureAwait(false);
        var planning = clock.Elapsed;
        var fixedHashing = new Hashing(planned.Scheme, new LshHasher(planned.Scheme));
        var scheme = fixedHashing.Scheme;
        ulong[] KeysOf(float[] values)
        {
            var keys = new ulong[scheme.Tables];
            fixedHashing.Hasher.ComputeBucketKeys(values, keys);
            return keys;
        }

        var won = await _store.FixSchemeAsync(learning.Scheme, scheme, KeysOf, _stopping.Token).ConfigureAwait(false);
        if (_silo is not null)
        {
            // One process, nothing under way: every shard is loaded again in one pass over the store.
            try
            {
                var stored = won ? scheme : await _store.ReadSchemeAsync(_stopping.Token).ConfigureAwait(false) ?? scheme;
                var reloaded = stored.Fingerprint == scheme.Fingerprint ? fixedHashing : new Hashing(stored, new LshHasher(stored));
                await ReloadEmbeddedAsync(reloaded.Scheme).ConfigureAwait(false);
                Fix(reloaded);
            }
            catch (Exception e) when (won)
            {
                // Fixed in the store, but the shards in memory still hold the learning scheme's epochs and buckets.
                _fault ??= e;
                throw;
            }
        }
        else if (won)
        {
            // A coordinator: the new epochs fence out every batch and shard activation of the learning scheme; the shards
            // load again (lazily, wherever they are), and the other coordinators read the fixed scheme within SchemeRecheck.
            Fix(fixedHashing);
            await ReloadAsync(AllShards()).ConfigureAwait(false);
        }
        else
        {
            await ReadStoredSchemeAsync(_stopping.Token).ConfigureAwait(false);
            return;
        }

        LogFixed(sample.Count, planning, clock.Elapsed - planning);
    }

    private void LogFixed(int learnedFrom, TimeSpan planning, TimeSpan fixing) =>
        _options.Log.LogInformation("learned the hashing from the first {Count} vectors (planned in {Planning:F1} s, stored vectors re-keyed and shards reloaded in {Fixing:F1} s): {Scheme}",
            learnedFrom, planning.TotalSeconds, fixing.TotalSeconds, Scheme);

    /// <summary>The embedded engine's shards claimed again and loaded in one pass with <paramref name="scheme"/>, then handed to their grains.</summary>
    private async Task ReloadEmbeddedAsync(LshScheme scheme) =>
        await _silo!.ReplaceShardsAsync(await ClaimAndLoadAllAsync(_store, scheme, _options, _silo.Directory, _stopping.Token).ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>Items hashed with another scheme than <paramref name="hashing"/>, hashed again with it.</summary>
    private List<HashedItem> Rehash(IReadOnlyList<HashedItem> items, Hashing hashing)
    {
        var again = new HashedItem[items.Count];
        Parallel.For(0, items.Count, j => again[j] = Hash(hashing, items[j].Index, items[j].ExternalId, items[j].Values));
        return [.. again];
    }
}
