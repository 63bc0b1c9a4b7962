using System.Runtime.InteropServices;
using LshCluster.Abstractions.Shards;
using LshCluster.Core.Kernels;
using LshCluster.Core.Vectors;
using LshCluster.Grains.Placement;
using LshCluster.Storage;

namespace LshCluster.Grains.Shards;

/// <summary>
/// The grain of one shard: the thin part around <see cref="Shard"/>. Its activation claims the shard in the store (a
/// new epoch, which fences every write of an earlier activation, ADR 0003) and loads the shard's own rows; each call is
/// one turn of the plain class. Never collected while its silo lives: its memory is the index.
/// </summary>
[KeepAlive]
[ShardPlacement]
internal sealed class ShardGrain(IShardSource source, ILocalSiloDetails silo, IClusterMembershipService membership, ShardPlacementTable placement, LocalShards local) : Grain, IShardGrain
{
    private Shard _shard = null!;

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var index = checked((int)this.GetPrimaryKeyLong());
        try
        {
            _shard = await source.ActivateAsync(index, silo.SiloAddress.ToString(), cancellationToken).ConfigureAwait(true);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            // The caller may be on another silo, which cannot deserialize the database driver's exceptions.
            throw new ShardActivationException($"shard {index} could not be loaded: the store failed ({e.Message}); nothing was changed, retry");
        }

        local.Add(_shard);
    }

    /// <inheritdoc />
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_shard is not null)
        {
            local.Remove(_shard);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<RegisterReply> RegisterAsync(RegisterRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var n = request.ExternalIds.Length;
        var norms = PackedStructs.Read<float>(request.SquaredNorms, "squaredNorms");
        if (norms.Length != n || request.Values.Length != n || request.Projections.Length != n)
        {
            throw new InvalidDataException($"register: {n} ids, {norms.Length} norms, {request.Values.Length} vectors and {request.Projections.Length} projections do not describe the same items");
        }

        // The record keeps arrays of its own: the caller's may be reused once the call returns.
        var registrations = new Registration[n];
        for (var i = 0; i < n; i++)
        {
            registrations[i] = new Registration(request.ExternalIds[i], Floats(request.Values[i], "values"), norms[i], Floats(request.Projections[i], "projections"));
        }

        var records = _shard.Register(registrations, out var isNew);
        var items = new RegisteredItem[n];
        for (var i = 0; i < n; i++)
        {
            var r = records[i];
            items[i] = new RegisteredItem(r.Id, r.InsertedAt.UtcTicks, r.IsAcknowledged ? r.AcknowledgedVerdict : default, isNew[i], r.IsAcknowledged);
        }

        return Task.FromResult(new RegisterReply(_shard.Epoch, PackedStructs.Pack<RegisteredItem>(items)));
    }

    /// <inheritdoc />
    public async Task<VerdictsReply> WaitVerdictsAsync(byte[] ids)
    {
        var wanted = PackedStructs.Read<long>(ids, "ids").ToArray();
        var verdicts = new StoredVerdict[wanted.Length];
        var failures = new string?[wanted.Length];
        for (var i = 0; i < wanted.Length; i++)
        {
            if (_shard.Find(wanted[i]) is not { } record)
            {
                failures[i] = "its insert failed and was forgotten";
                continue;
            }

            try
            {
                verdicts[i] = await record.Verdict.ConfigureAwait(true);
            }
            catch (Exception e)
            {
                failures[i] = e.Message;
            }
        }

        return new VerdictsReply(PackedStructs.Pack<StoredVerdict>(verdicts), failures);
    }

    /// <inheritdoc />
    public Task AcknowledgeAsync(byte[] verdicts)
    {
        foreach (ref readonly var v in PackedStructs.Read<VerdictOf>(verdicts, "verdicts"))
        {
            _shard.Acknowledge(v.Id, v.Verdict);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ForgetAsync(byte[] ids, string reason)
    {
        _shard.Unregister(PackedStructs.Read<long>(ids, "ids").ToArray(), new InvalidOperationException(reason));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<BucketReply> RunBucketOperationsAsync(BucketRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var found = _shard.RunBucketOperations(PackedStructs.Read<BucketOperation>(request.Operations.Span, "operations"), request.MaxHamming);
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
    public Task<VerifyReply> VerifyAsync(VerifyRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var headers = PackedStructs.Read<QueryHeader>(request.Queries.Span, "queries");
        var n = headers.Length;
        if (request.Values.Length != n || request.Projections.Length != n)
        {
            throw new InvalidDataException($"verify: {n} queries, {request.Values.Length} vectors and {request.Projections.Length} projections");
        }

        // The queries' floats stay where the message has them.
        var edges = _shard.Verify(headers, request.Values, request.Projections, PackedStructs.Read<PackedCheck>(request.Checks.Span, "checks"), request.LowestRung, request.Screen);
        return Task.FromResult(new VerifyReply(_shard.Epoch, PackedStructs.Pack<FoundEdge>(CollectionsMarshal.AsSpan(edges))));
    }

    /// <inheritdoc />
    public Task<AscendReply> AscendAsync(long id, int rung)
    {
        var (node, isRoot) = _shard.Ascend(id, rung);
        return Task.FromResult(new AscendReply(_shard.Epoch, node, isRoot));
    }

    /// <inheritdoc />
    public Task<LinkReply> LinkAsync(long child, long parent, int rung)
    {
        var moved = _shard.LinkAndTake(child, parent, rung);
        return Task.FromResult(moved is { } m
            ? new LinkReply(_shard.Epoch, true, PackedStructs.Pack<long>(m.Members), PackedStructs.Pack<long>(m.Tombstones))
            : new LinkReply(_shard.Epoch, false, [], []));
    }

    /// <inheritdoc />
    public Task<ClusterChangeReply> AbsorbAsync(int rung, IdLists members, IdLists tombstones)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(tombstones);
        var moved = new List<int>();
        for (var k = 0; k < IdListsCodec.Count(members); k++)
        {
            if (!_shard.Absorb(IdListsCodec.Root(members, k), rung, IdListsCodec.Ids(members, k), IdListsCodec.Ids(tombstones, k)))
            {
                moved.Add(k);
            }
        }

        return Task.FromResult(new ClusterChangeReply(_shard.Epoch, PackedStructs.Pack<int>([.. moved])));
    }

    /// <inheritdoc />
    public Task<ClusterChangeReply> RemoveMembersAsync(int rung, byte[] pairs)
    {
        var moved = new List<int>();
        var removals = PackedStructs.Read<KeyValuePair<long, long>>(pairs, "pairs");
        for (var k = 0; k < removals.Length; k++)
        {
            if (!_shard.RemoveMember(removals[k].Key, rung, removals[k].Value))
            {
                moved.Add(k);
            }
        }

        return Task.FromResult(new ClusterChangeReply(_shard.Epoch, PackedStructs.Pack<int>([.. moved])));
    }

    /// <inheritdoc />
    public Task<ClusterPageReply> ClusterAsync(long root, int rung, long after, int skip, int take, int sample) =>
        Task.FromResult(_shard.Page(root, rung, after, skip, take, sample) is { } page
            ? new ClusterPageReply(true, page.Size, page.Canonical, PackedStructs.Pack<long>(page.Members), PackedStructs.Pack<long>(page.Sample))
            : new ClusterPageReply(false, 0, 0, [], []));

    /// <inheritdoc />
    public Task<byte[]> CosinesAsync(byte[] to, byte[] ids)
    {
        var vector = PackedStructs.Read<float>(to, "to");
        return Task.FromResult(PackedStructs.Pack<float>(_shard.Cosines(vector, VectorMath.SquaredNorm(vector), PackedStructs.Read<long>(ids, "ids"))));
    }

    /// <inheritdoc />
    public Task<IdLists> ClustersAsync(int rung) => Task.FromResult(IdListsCodec.Pack(_shard.Clusters(rung)));

    /// <inheritdoc />
    public Task<ShardRecord?[]> LookupAsync(byte[] ids, bool withValues)
    {
        var wanted = PackedStructs.Read<long>(ids, "ids");
        var records = new ShardRecord?[wanted.Length];
        for (var i = 0; i < wanted.Length; i++)
        {
            records[i] = View(_shard.Find(wanted[i]), withValues);
        }

        return Task.FromResult(records);
    }

    /// <inheritdoc />
    public Task<ShardRecord?> LookupExternalAsync(string externalId, bool withValues) => Task.FromResult(View(_shard.Find(externalId), withValues));

    /// <inheritdoc />
    public Task<ForestReply> ParentsAsync(int rung)
    {
        var forest = _shard.Parents(rung);
        return Task.FromResult(new ForestReply(PackedStructs.Pack<KeyValuePair<long, long>>(forest.Parents), PackedStructs.Pack<long>(forest.Deleted)));
    }

    /// <inheritdoc />
    public Task<CountsReply> CountsAsync()
    {
        var (vectors, duplicates) = _shard.Counts();
        return Task.FromResult(new CountsReply(vectors, duplicates));
    }

    /// <inheritdoc />
    public Task<NamesReply> NamesAsync()
    {
        var records = _shard.Records().ToArray();
        return Task.FromResult(new NamesReply(PackedStructs.Pack<long>([.. records.Select(r => r.Id)]), [.. records.Select(r => r.ExternalId)]));
    }

    /// <inheritdoc />
    public Task<BeginDeleteReply> BeginDeleteAsync(string[] externalIds) =>
        Task.FromResult(new BeginDeleteReply(_shard.Epoch, PackedStructs.Pack<DeleteOutcome>(_shard.BeginDelete(externalIds))));

    /// <inheritdoc />
    public Task EndDeleteAsync(byte[] ids, bool committed)
    {
        _shard.EndDelete(PackedStructs.Read<long>(ids, "ids").ToArray(), committed);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task WaitSettledAsync(byte[] ids) => _shard.Settled(PackedStructs.Read<long>(ids, "ids").ToArray());

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
    public Task ReloadAsync()
    {
        // Waits interleave with other calls; one left pending would keep this activation from going idle (and the calls
        // that would end it queue behind the deactivation).
        _shard.ReleaseWaiters(new InvalidOperationException($"shard {this.GetPrimaryKeyLong()} reloads from the store"));
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private static ShardRecord? View(HomeRecord? r, bool withValues) => r is null
        ? null
        : new ShardRecord(r.Id, r.ExternalId, withValues ? PackedStructs.Pack<float>(r.Values) : null, r.SquaredNorm, r.IsAcknowledged,
            PackedStructs.Pack<StoredVerdict>([r.IsAcknowledged ? r.AcknowledgedVerdict : default]));

    private static float[] Floats(ReadOnlyMemory<byte> bytes, string field)
    {
        if (bytes.Length % sizeof(float) != 0)
        {
            throw new InvalidDataException($"{field}: {bytes.Length} bytes is not a whole number of floats");
        }

        return NumberBytes.View<float>(bytes).ToArray();
    }
}
