using LshCluster.Abstractions.Shards;
using LshCluster.Core.Ids;
using LshCluster.Grains.Placement;
using LshCluster.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace LshCluster.Grains.Shards;

/// <summary>
/// The grain of one shard: the thin part around <see cref="Shard"/>. Its activation claims the shard in the store (a
/// new epoch, which fences every write of an earlier activation, ADR 0003) and loads the shard's own rows; each call is
/// one turn of the plain class. Never collected while its silo lives: its memory is the index.
/// </summary>
[KeepAlive]
[ShardPlacement]
internal sealed class ShardGrain(IDedupStore store, ILocalSiloDetails silo, IClusterMembershipService membership, ShardPlacementTable placement, LocalShards local) : Grain, IShardGrain
{
    private Shard _shard = null!;

    /// <summary>The epoch this activation holds.</summary>
    public long Epoch => _shard.Epoch;

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var index = checked((int)this.GetPrimaryKeyLong());
        var scheme = await store.ReadSchemeAsync(cancellationToken).ConfigureAwait(true)
            ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create)");
        if (index < 0 || index >= scheme.ShardCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"shard {index} does not exist: the cluster has {scheme.ShardCount} shards");
        }

        var time = ServiceProvider.GetService<TimeProvider>() ?? TimeProvider.System;
        var epochs = await store.ClaimShardsAsync(silo.SiloAddress.ToString(), [index], cancellationToken).ConfigureAwait(true);
        _shard = new Shard(index, scheme.Rungs.Count, time) { Epoch = epochs[0] };

        // Verdicts naming vectors that never got stored are derived again only for vectors old enough that no batch
        // can still be committing them (twice the longest a request may run).
        var orphansBefore = VectorId.Create(Math.Max(0, (long)(time.GetUtcNow() - TimeSpan.FromMinutes(2) - VectorId.Epoch).TotalMilliseconds), 0, 0);
        await ShardLoader.LoadOneAsync(store, scheme, _shard, orphansBefore, cancellationToken).ConfigureAwait(true);
        local.Add(index);
    }

    /// <inheritdoc />
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_shard is not null)
        {
            local.Remove(_shard.Index);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<BucketReply> RunBucketOperationsAsync(BucketRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var found = _shard.RunBucketOperations(PackedStructs.Read<BucketOperation>(request.Operations, "operations"), request.MaxHamming);
        try
        {
            return Task.FromResult(new BucketReply(_shard.Epoch, PackedStructs.Pack<Candidate>(found.Span)));
        }
        finally
        {
            found.Return();
        }
    }

    /// <inheritdoc />
    public Task<AscendReply> AscendAsync(long id, int rung)
    {
        var (node, isRoot) = _shard.Ascend(id, rung);
        return Task.FromResult(new AscendReply(_shard.Epoch, node, isRoot));
    }

    /// <inheritdoc />
    public async Task<bool> MoveIfMisplacedAsync()
    {
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToArray();
        if (active.Length == 0 || (await placement.OwnersAsync(active).ConfigureAwait(true))[_shard.Index].Equals(silo.SiloAddress))
        {
            return false;
        }

        MigrateOnIdle();
        return true;
    }

    /// <inheritdoc />
    public Task<LinkReply> LinkAsync(long child, long parent, int rung) =>
        Task.FromResult(new LinkReply(_shard.Epoch, _shard.Link(child, parent, rung)));
}
