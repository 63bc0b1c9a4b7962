using LshCluster.Abstractions.Shards;
using Microsoft.Extensions.Logging;

namespace LshCluster.Grains.Placement;

/// <summary>
/// Keeps a silo's shards where <see cref="ShardPlacementTable"/> puts them as silos come and go: every
/// <see cref="SweepInterval"/>, once the set of active silos has stayed the same for a whole interval (so that the
/// other silos know of a newcomer before shards are sent to it), each shard active here that belongs elsewhere is
/// asked to migrate; its next activation, placed by <see cref="ShardPlacementDirector"/>, takes a new epoch and loads
/// from the store. A silo joining thus receives about 1/(N + 1) of the shards while the others keep theirs, and a shard
/// placed by a silo whose view lagged is put right at the next sweep. Shards that belong here and are not active here
/// (at start, or those of a silo that died or left) are activated, so that they load before a request waits for them.
/// When a silo dies, the shards here holding inserts not yet acknowledged reload (<see cref="ReloadOrphansAsync"/>).
/// </summary>
internal sealed partial class ShardRebalancer(
    IClusterMembershipService membership,
    IGrainFactory grains,
    ILocalSiloDetails local,
    ShardPlacementTable table,
    LocalShards shards,
    ILogger<ShardRebalancer> log) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>How often the silo checks its shards' places.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(2);

    // Moves run a few at a time: each new activation loads its shard from the store.
    private const int ConcurrentMoves = 16;

    private readonly CancellationTokenSource _stopping = new();
    private Task? _sweeping;

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ShardRebalancer), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellationToken)
    {
        _sweeping = Task.Run(() => SweepAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_sweeping is { } sweeping)
        {
            await sweeping.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task SweepAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(SweepInterval);
        HashSet<SiloAddress>? last = null;
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                var members = membership.CurrentSnapshot.Members;
                var active = members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToHashSet();
                // Others only: a silo told it is dead itself stops (its shards are elsewhere already).
                var died = last?.Where(s => !s.Equals(local.SiloAddress) && members.TryGetValue(s, out var m) && m.Status == SiloStatus.Dead).ToList() ?? [];
                if (died.Count > 0)
                {
                    await ReloadOrphansAsync(died, stopping).ConfigureAwait(false);
                }

                var settled = last is not null && last.SetEquals(active);
                last = active;
                if (settled && active.Contains(local.SiloAddress))
                {
                    await MoveMisplacedAsync(active, stopping).ConfigureAwait(false);
                    await ActivateMissingAsync(active, stopping).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Any silo coordinates any batch, registering its vectors at their home shards wherever those are, and only its
    /// commit acknowledges them (or its failure forgets them). A coordinator that dies leaves those registrations
    /// pending here, and a producer sending the same ids again (to a live silo) would wait on them forever. So the
    /// shards here with inserts under way reload: their waiters are told to send again, and the new activation reads
    /// what was committed with a new epoch, which also fences a commit the dead silo might still be making. Batches of
    /// live coordinators caught in those shards are refused by the fence and resent by them, as after any move.
    /// </summary>
    private async Task ReloadOrphansAsync(List<SiloAddress> died, CancellationToken stopping)
    {
        var pending = shards.Snapshot().Where(s => shards.Find(s)?.HasUnacknowledged() == true).ToList();
        LogReloadingOrphans(string.Join(", ", died), pending.Count);
        await AskEachAsync(pending, shard => shard.ReloadAsync(), LogReloadFailed, stopping).ConfigureAwait(false);
    }

    private async Task MoveMisplacedAsync(HashSet<SiloAddress> active, CancellationToken stopping)
    {
        var owners = await table.OwnersAsync(active).ConfigureAwait(false);
        var misplaced = shards.Snapshot().Where(s => s < owners.Length && !owners[s].Equals(local.SiloAddress)).ToList();
        if (misplaced.Count == 0)
        {
            return;
        }

        LogMoving(misplaced.Count, active.Count);
        // A shard that cannot be asked stays here, still answering, and is asked again at the next sweep.
        await AskEachAsync(misplaced, shard => shard.MoveIfMisplacedAsync(), LogMoveFailed, stopping).ConfigureAwait(false);
    }

    /// <summary>Calls each of <paramref name="indexes"/>' grains, a few at a time; a call that fails is logged, not thrown.</summary>
    private Task AskEachAsync(List<int> indexes, Func<IShardGrain, Task> ask, Action<Exception, int> failed, CancellationToken stopping) =>
        Parallel.ForEachAsync(indexes, new ParallelOptions { MaxDegreeOfParallelism = ConcurrentMoves, CancellationToken = stopping }, async (index, _) =>
        {
            try
            {
                // A call must not outlive the silo's stop: the sweep it holds up is what stopping waits for.
                await ask(grains.GetGrain<IShardGrain>(index)).WaitAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed(e, index);
            }
        });

    private async Task ActivateMissingAsync(HashSet<SiloAddress> active, CancellationToken stopping)
    {
        var owners = await table.OwnersAsync(active).ConfigureAwait(false);
        var here = shards.Snapshot().ToHashSet();
        var missing = Enumerable.Range(0, owners.Length).Where(s => owners[s].Equals(local.SiloAddress) && !here.Contains(s)).ToList();
        // All at once: the shard source loads the activations that wait together, in one pass when they are many.
        await Task.WhenAll(missing.Select(async shard =>
        {
            try
            {
                // Any call activates the grain (placed here, as placement gives it here); a cheap one.
                await grains.GetGrain<IShardGrain>(shard).CountsAsync().WaitAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogActivationFailed(e, shard);
            }
        })).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "shard {Shard} could not be activated ahead of requests; it loads at its first call")]
    private partial void LogActivationFailed(Exception error, int shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "silo {Silos} died: reloading the {Count} shards here that hold inserts not yet acknowledged (its batches among them)")]
    private partial void LogReloadingOrphans(string silos, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} shards active here belong to other silos ({Silos} active): asking them to move")]
    private partial void LogMoving(int count, int silos);

    [LoggerMessage(Level = LogLevel.Warning, Message = "shard {Shard} could not be asked to reload; it holds inserts of a dead silo until its next reload, or five minutes")]
    private partial void LogReloadFailed(Exception error, int shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "shard {Shard} could not be asked to move; asking again at the next sweep")]
    private partial void LogMoveFailed(Exception error, int shard);
}
