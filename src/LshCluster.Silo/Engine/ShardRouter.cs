using Google.Protobuf;
using LshCluster.Core.Ids;
using LshCluster.Grains.Shards;
using LshCluster.Protocol.Internal;
using LshCluster.Protocol.Wire;
using LshCluster.Runtime;
using LshCluster.Silo.Cluster;
using LshCluster.Silo.Shards;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>A home record as any silo may see it (a copy: the record itself stays at its home).</summary>
internal sealed record RecordView(long Id, string ExternalId, float[]? Values, float SquaredNorm, bool Acknowledged, StoredVerdict Verdict)
{
    public static RecordView Of(HomeRecord r, bool withValues) =>
        new(r.Id, r.ExternalId, withValues ? r.Values : null, r.SquaredNorm, r.IsAcknowledged, r.IsAcknowledged ? r.AcknowledgedVerdict : default);
}

/// <summary>
/// Every call the engine makes to a shard goes through here: to the local activation through its mailbox, or, when
/// another silo owns the shard, over the wire (batched per silo by <see cref="IRemoteSilos"/>). A shard that is
/// moving, or an owner that cannot be reached, makes the call wait for the shard map to change and try again until
/// its deadline. Calls arriving from other silos are served by <see cref="ServeAsync"/>.
/// </summary>
internal sealed class ShardRouter : IShardCalls
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMilliseconds(500);

    private readonly LocalShard?[] _local;
    private readonly IShardPlacement? _placement;
    private readonly IRemoteSilos? _remote;
    private readonly TimeProvider _time;
    private readonly TimeSpan _patience;

    /// <param name="shardCount">S.</param>
    /// <param name="placement">Null in the embedded engine: every shard is local.</param>
    /// <param name="remote">Null in the embedded engine.</param>
    /// <param name="time">The clock.</param>
    /// <param name="patience">How long a call without a deadline keeps trying to reach a moving shard.</param>
    public ShardRouter(int shardCount, IShardPlacement? placement, IRemoteSilos? remote, TimeProvider time, TimeSpan patience)
    {
        _local = new LocalShard?[shardCount];
        _placement = placement;
        _remote = remote;
        _time = time;
        _patience = patience;
    }

    public int ShardCount => _local.Length;

    /// <summary>The local activation of <paramref name="shard"/> if it is active here.</summary>
    public LocalShard? Local(int shard) => _local[shard] is { Active: true } local ? local : null;

    /// <summary>Every shard active here.</summary>
    public IEnumerable<LocalShard> LocalShards() => _local.Where(l => l is { Active: true })!;

    public void Activate(int shard, LocalShard local) => _local[shard] = local;

    /// <summary>Takes a shard out of service here (sealed for a move, or released).</summary>
    public LocalShard? Deactivate(int shard)
    {
        var local = _local[shard];
        if (local is not null)
        {
            local.Active = false;
        }

        return local;
    }

    public void Remove(int shard) => _local[shard] = null;

    // ---- the calls --------------------------------------------------------------------------------------------

    // Registrations and deletes run at the home shard's owner only: the engine sends them there first.
    public async Task<Registered?> RegisterAsync(int shard, IReadOnlyList<HashedItem> items, DateTimeOffset deadline)
    {
        if (Local(shard) is not { } local)
        {
            return null;
        }

        var registrations = items.Select(x => new Registration(x.ExternalId, x.Values, x.SquaredNorm, x.Projection)).ToArray();
        try
        {
            return await local.Mailbox.Post(() =>
            {
                if (!local.Active || local.Sealing)
                {
                    return null; // sealed for a move since the batch was routed here: not_owner, sent again
                }

                var found = local.Shard.Register(registrations, out var fresh);
                var registered = new RegisteredItem[found.Length];
                for (var n = 0; n < found.Length; n++)
                {
                    var r = found[n];
                    registered[n] = new RegisteredItem(r.Id, r.InsertedAt.UtcTicks, r.IsAcknowledged ? r.AcknowledgedVerdict : default, fresh[n], r.IsAcknowledged);
                    if (fresh[n])
                    {
                        Interlocked.Increment(ref local.InFlight); // a seal waits for the commit
                    }
                }

                return new Registered(local.Shard.Epoch, registered);
            }, deadline).ConfigureAwait(false);
        }
        catch (ObjectDisposedException) when (!local.Active)
        {
            return null; // sealed while the registration was on its way: sent to the next owner
        }
    }

    public async Task<(StoredVerdict Verdict, string? Failure)[]> WaitVerdictsAsync(int shard, long[] ids, CancellationToken cancellationToken)
    {
        var results = new (StoredVerdict, string?)[ids.Length];
        Task<StoredVerdict>?[] waits;
        try
        {
            var local = Local(shard) ?? throw new ObjectDisposedException($"shard {shard}");
            waits = await local.Mailbox.SendAsync(() => ids.Select(id => local.Shard.Find(id)?.Verdict).ToArray(), DateTimeOffset.MaxValue, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // Moved away since the repeat registered here: its owner now answers it, with the stored verdict.
            Array.Fill(results, (default, $"its home shard {shard} moved to another silo meanwhile"));
            return results;
        }

        for (var i = 0; i < ids.Length; i++)
        {
            try
            {
                results[i] = waits[i] is { } wait ? (await wait.WaitAsync(cancellationToken).ConfigureAwait(false), null) : (default, "its insert failed and was forgotten");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                results[i] = (default, e.Message);
            }
        }

        return results;
    }

    public Task AcknowledgeAsync(int shard, VerdictOf[] verdicts) =>
        EndInFlightAsync(shard, verdicts.Length, s =>
        {
            foreach (var v in verdicts)
            {
                s.Find(v.Id)?.Acknowledge(v.Verdict);
            }
        });

    public Task ForgetAsync(int shard, long[] ids, Exception reason) => EndInFlightAsync(shard, ids.Length, s => s.Unregister(ids, reason));

    public async Task<(long Epoch, DeleteOutcome[] Outcomes)?> BeginDeleteAsync(int shard, IReadOnlyList<string> externalIds)
    {
        if (Local(shard) is not { } local)
        {
            return null;
        }

        try
        {
            // Deletes are rare administrative calls: their turns skip admission, so none is refused half-way.
            return await local.Mailbox.SendAsync<(long, DeleteOutcome[])?>(() =>
            {
                if (!local.Active || local.Sealing)
                {
                    return null; // moving: not_owner, sent again to the next owner
                }

                var outcomes = local.Shard.BeginDelete(externalIds);
                foreach (var o in outcomes)
                {
                    if (o.Start == DeleteStart.Started)
                    {
                        Interlocked.Increment(ref local.InFlight); // a seal waits for the commit
                    }
                }

                return (local.Shard.Epoch, outcomes);
            }, DateTimeOffset.MaxValue).ConfigureAwait(false);
        }
        catch (ObjectDisposedException) when (!local.Active)
        {
            return null;
        }
    }

    public Task EndDeleteAsync(int shard, long[] ids, bool committed) => EndInFlightAsync(shard, ids.Length, s => s.EndDelete(ids, committed));

    /// <summary>Not used: the mailbox silo stops its whole engine after a failed commit and reloads every shard.</summary>
    public Task ReloadAsync(int shard) => throw new NotSupportedException("the mailbox silo reloads its shards by restarting its engine");

    public async Task WaitSettledAsync(int shard, long[] ids, CancellationToken cancellationToken)
    {
        if (Local(shard) is not { } local)
        {
            return; // moved: asking again finds the next owner
        }

        var settled = await local.Mailbox.SendAsync(() => local.Shard.Settled(ids), DateTimeOffset.MaxValue, cancellationToken).ConfigureAwait(false);
        await settled.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A turn that ends <paramref name="count"/> inserts or deletes in flight at <paramref name="shard"/> (a seal waits
    /// for them). Once the mailbox is closed (shutting down) no other turn can run, so it runs here: whoever waits on
    /// these vectors must not hang.
    /// </summary>
    private async Task EndInFlightAsync(int shard, int count, Action<Shard> turn)
    {
        if (_local[shard] is not { } local)
        {
            return;
        }

        try
        {
            await local.Mailbox.SendAsync(() =>
            {
                turn(local.Shard);
                return true;
            }, DateTimeOffset.MaxValue).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            turn(local.Shard);
        }
        finally
        {
            Interlocked.Add(ref local.InFlight, -count);
        }
    }

    /// <returns>The candidates found, in a pooled list the caller returns (and no epoch: the silo path fences homes only).</returns>
    public async Task<(long Epoch, PooledList<Candidate> Found)> BucketOperationsAsync(int shard, ArraySegment<BucketOperation> operations, int maxHamming, bool admission, DateTimeOffset deadline) =>
        (0, await RouteAsync(shard, s => s.RunBucketOperations(operations, maxHamming), () => ShardCallCodec.BucketOps(shard, operations, maxHamming), ShardCallCodec.ReadCandidates, admission, deadline).ConfigureAwait(false));

    public Task<List<FoundEdge>> VerifyAsync(int shard, ArraySegment<Verification> checks, float lowestRung, float screen, bool admission, DateTimeOffset deadline) =>
        RouteAsync(shard, s => s.Verify(checks, lowestRung, screen), () => ShardCallCodec.Verify(shard, checks, lowestRung, screen), ShardCallCodec.ReadEdges, admission, deadline);

    /// <summary>
    /// Verifications at many shards: local ones through their mailboxes, and for each other silo one call that
    /// carries every new vector once, however many of that silo's shards hold its candidates. What the other silo no
    /// longer owns goes again shard by shard (with the waiting and retries of <see cref="VerifyAsync"/>).
    /// </summary>
    public async Task<List<FoundEdge>> VerifyAllAsync(IReadOnlyList<(int Shard, ArraySegment<Verification> Checks)> byShard, float lowestRung, float screen, bool admission, DateTimeOffset deadline)
    {
        var work = new List<Task<List<FoundEdge>>>();
        var bySilo = new Dictionary<string, List<ArraySegment<Verification>>>();
        foreach (var (shard, checks) in byShard)
        {
            if (Local(shard) is null && _remote is not null && _placement?.OwnerOf(shard) is { } owner && owner != _placement.Self)
            {
                if (!bySilo.TryGetValue(owner, out var parts))
                {
                    bySilo[owner] = parts = [];
                }

                parts.Add(checks);
            }
            else
            {
                work.Add(VerifyAsync(shard, checks, lowestRung, screen, admission, deadline));
            }
        }

        work.AddRange(bySilo.Select(pair => VerifyAtSiloAsync(pair.Key, pair.Value, lowestRung, screen, admission, deadline)));
        return [.. (await Task.WhenAll(work).ConfigureAwait(false)).SelectMany(x => x)];
    }

    private async Task<List<FoundEdge>> VerifyAtSiloAsync(string owner, List<ArraySegment<Verification>> parts, float lowestRung, float screen, bool admission, DateTimeOffset deadline)
    {
        List<Verification> again;
        var found = new List<FoundEdge>();
        try
        {
            var reply = await _remote!.CallAsync(owner, ShardCallCodec.VerifyMany(parts, lowestRung, screen)).ConfigureAwait(false);
            if (reply.ResultCase != ShardReply.ResultOneofCase.Verified)
            {
                throw new InvalidOperationException($"{owner} failed a verification: {(reply.ResultCase == ShardReply.ResultOneofCase.Failed ? reply.Failed : reply.ResultCase.ToString())}");
            }

            found.AddRange(ShardCallCodec.ReadEdges(reply.Verified.Edges));
            var unserved = new HashSet<(int, long)>();
            for (var i = 0; i < reply.Verified.UnservedItems.Count; i++)
            {
                unserved.Add((reply.Verified.UnservedItems[i], (long)reply.Verified.UnservedCandidates[i]));
            }

            again = unserved.Count == 0 ? [] : [.. parts.SelectMany(p => p).Where(c => unserved.Contains((c.Item, c.CandidateId)))];
        }
        catch (RpcException e) when (e.Status is GrpcStatusCode.Unavailable or GrpcStatusCode.DeadlineExceeded or GrpcStatusCode.Cancelled)
        {
            again = [.. parts.SelectMany(p => p)];
        }

        if (again.Count > 0)
        {
            var retried = await Task.WhenAll(again.GroupBy(c => VectorId.HomeShard(c.CandidateId))
                .Select(g => VerifyAsync(g.Key, new ArraySegment<Verification>([.. g]), lowestRung, screen, admission, deadline))).ConfigureAwait(false);
            found.AddRange(retried.SelectMany(x => x));
        }

        return found;
    }

    public Task<(long Node, bool IsRoot)> AscendAsync(int shard, long id, int rung, DateTimeOffset deadline) =>
        RouteAsync(shard, s => s.Ascend(id, rung), () => ShardCallCodec.Ascend(shard, id, rung), r => ((long)r.Ascend.Node, r.Ascend.IsRoot), admission: false, deadline);

    public async Task<(long Epoch, bool Linked)> LinkAsync(int shard, long child, long parent, int rung, DateTimeOffset deadline) =>
        (0, await RouteAsync(shard, s => s.Link(child, parent, rung), () => ShardCallCodec.Link(shard, child, parent, rung), r => r.Linked, admission: false, deadline).ConfigureAwait(false));

    public Task<RecordView?[]> LookupAsync(int shard, IReadOnlyList<long> ids, bool withValues, DateTimeOffset deadline, bool admission = true) =>
        RouteAsync(shard, s => ids.Select(id => s.Find(id) is { } r ? RecordView.Of(r, withValues) : null).ToArray(),
            () => ShardCallCodec.Lookup(shard, ids, withValues), ShardCallCodec.ReadRecords, admission, deadline);

    public Task<RecordView?> LookupExternalAsync(int shard, string externalId, bool withValues, DateTimeOffset deadline) =>
        RouteAsync(shard, s => s.Find(externalId) is { } r ? RecordView.Of(r, withValues) : null,
            () => ShardCallCodec.LookupExternal(shard, externalId, withValues), r => ShardCallCodec.ReadRecords(r)[0], admission: true, deadline);

    public Task<Forest> ParentsAsync(int shard, int rung, DateTimeOffset deadline) =>
        RouteAsync(shard, s => s.Parents(rung), () => ShardCallCodec.Parents(shard, rung), ShardCallCodec.ReadForest, admission: true, deadline);

    public Task<(int Vectors, int Duplicates)> CountsAsync(int shard, DateTimeOffset deadline) =>
        RouteAsync(shard, s => s.Counts(), () => new ShardCall { Shard = shard, Counts = new CountsOp() }, r => (r.Counts.Vectors, r.Counts.Duplicates), admission: true, deadline);

    public Task<(long Id, string ExternalId)[]> NamesAsync(int shard, DateTimeOffset deadline) =>
        RouteAsync(shard, s => s.Records().Select(r => (r.Id, r.ExternalId)).ToArray(),
            () => new ShardCall { Shard = shard, Names = new NamesOp() },
            r => r.Names.Records_.Select(x => ((long)x.Id, x.ExternalId)).ToArray(), admission: true, deadline);

    private async Task<T> RouteAsync<T>(int shard, Func<Shard, T> turn, Func<ShardCall> call, Func<ShardReply, T> read, bool admission, DateTimeOffset deadline)
    {
        var giveUp = deadline != DateTimeOffset.MaxValue ? deadline : _time.GetUtcNow() + _patience;
        var backoff = TimeSpan.FromMilliseconds(20);
        string why;
        while (true)
        {
            if (Local(shard) is { } local)
            {
                try
                {
                    return admission
                        ? await local.Mailbox.Post(() => turn(local.Shard), deadline).ConfigureAwait(false)
                        : await local.Mailbox.SendAsync(() => turn(local.Shard), deadline).ConfigureAwait(false);
                }
                catch (ObjectDisposedException) when (!local.Active)
                {
                    why = $"shard {shard} was sealed here while the call waited";
                }
            }
            else if (_placement?.OwnerOf(shard) is { } owner && owner != _placement.Self && _remote is not null)
            {
                try
                {
                    var reply = await _remote.CallAsync(owner, call()).ConfigureAwait(false);
                    switch (reply.ResultCase)
                    {
                        case ShardReply.ResultOneofCase.NotOwner:
                            why = $"{owner} no longer owns shard {shard}";
                            break;
                        case ShardReply.ResultOneofCase.Failed:
                            throw new InvalidOperationException($"shard {shard} at {owner} failed the call: {reply.Failed}");
                        default:
                            return read(reply);
                    }
                }
                catch (RpcException e) when (e.Status is GrpcStatusCode.Unavailable or GrpcStatusCode.DeadlineExceeded or GrpcStatusCode.Cancelled)
                {
                    why = $"{owner} (owner of shard {shard}) did not answer: {e.Detail}";
                }
            }
            else
            {
                why = $"shard {shard} has no live owner yet";
            }

            if (_placement is null)
            {
                throw new InvalidOperationException(why);
            }

            if (_time.GetUtcNow() + backoff > giveUp)
            {
                throw new ShardUnavailableException($"{why}; gave up at the deadline. Nothing of this request was acknowledged: retry it");
            }

            await Task.Delay(backoff, _time).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            await _placement.RefreshAsync().ConfigureAwait(false);
        }
    }

    // ---- serving calls from other silos ------------------------------------------------------------------------

    /// <summary>Runs calls sent by other silos against the shards active here; "not owner" for the others.</summary>
    public async Task<ShardReplies> ServeAsync(ShardCalls calls, DateTimeOffset deadline)
    {
        var replies = await Task.WhenAll(calls.Calls.Select(call => ServeOneAsync(call, deadline))).ConfigureAwait(false);
        var result = new ShardReplies();
        result.Replies.AddRange(replies);
        return result;
    }

    private async Task<ShardReply> ServeVerifyManyAsync(VerifyOp op, DateTimeOffset deadline)
    {
        var result = new VerifyManyResult();
        var edges = new List<FoundEdge>();
        var turns = new List<Task<List<FoundEdge>>>();
        var checks = ShardCallCodec.ReadChecks(op);
        var homes = new PooledList<int>(checks.Count);
        homes.SetCount(checks.Count);
        var all = checks.Span;
        var homeOf = homes.Span;
        for (var i = 0; i < all.Length; i++)
        {
            homeOf[i] = VectorId.HomeShard(all[i].CandidateId) is var shard && shard < _local.Length ? shard : _local.Length;
        }

        // One run of checks per home shard; homes outside the shard range (a silo of another configuration) go last.
        var (byShard, starts) = ShardGroups.Sort(checks, homes, _local.Length + 1);
        checks.Return();
        homes.Return();
        foreach (var (shard, run) in ShardGroups.Runs(byShard, starts))
        {
            if (shard < _local.Length && Local(shard) is { } local)
            {
                turns.Add(VerifyHereAsync(local, run));
            }
            else
            {
                Unserved(run);
            }
        }

        foreach (var found in await Task.WhenAll(turns).ConfigureAwait(false))
        {
            edges.AddRange(found);
        }

        byShard.Return();
        result.Edges = ShardCallCodec.EdgesOf(edges);
        return new ShardReply { Verified = result };

        void Unserved(ArraySegment<Verification> run)
        {
            lock (result)
            {
                foreach (var c in run)
                {
                    result.UnservedItems.Add(c.Item);
                    result.UnservedCandidates.Add((ulong)c.CandidateId);
                }
            }
        }

        async Task<List<FoundEdge>> VerifyHereAsync(LocalShard local, ArraySegment<Verification> run)
        {
            try
            {
                return await local.Mailbox.SendAsync(() => local.Shard.Verify(run, op.LowestRung, op.Screen), deadline).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                Unserved(run);
                return [];
            }
        }
    }

    private async Task<ShardReply> ServeOneAsync(ShardCall call, DateTimeOffset deadline)
    {
        if (call.OpCase == ShardCall.OpOneofCase.VerifyMany)
        {
            return await ServeVerifyManyAsync(call.VerifyMany, deadline).ConfigureAwait(false);
        }

        if (call.Shard < 0 || call.Shard >= _local.Length || Local(call.Shard) is not { } local)
        {
            return new ShardReply { NotOwner = new NotOwner { Owner = call.Shard >= 0 && call.Shard < _local.Length ? _placement?.OwnerOf(call.Shard) ?? string.Empty : string.Empty } };
        }

        Func<Shard, ShardReply> turn = call.OpCase switch
        {
            ShardCall.OpOneofCase.BucketOps => ShardCallCodec.ServeBucketOps(call.BucketOps),
            ShardCall.OpOneofCase.Verify => ShardCallCodec.ServeVerify(call.Verify),
            ShardCall.OpOneofCase.Ascend => s =>
            {
                var (node, isRoot) = s.Ascend((long)call.Ascend.Id, call.Ascend.Rung);
                return new ShardReply { Ascend = new AscendResult { Node = (ulong)node, IsRoot = isRoot } };
            }
            ,
            ShardCall.OpOneofCase.Link => s => new ShardReply { Linked = s.Link((long)call.Link.Child, (long)call.Link.Parent, call.Link.Rung) },
            ShardCall.OpOneofCase.Lookup => s => ShardCallCodec.RecordsReply(call.Lookup.Ids.Select(id => s.Find((long)id) is { } r ? RecordView.Of(r, call.Lookup.WithValues) : null)),
            ShardCall.OpOneofCase.LookupExternal => s => ShardCallCodec.RecordsReply([s.Find(call.LookupExternal.ExternalId) is { } r ? RecordView.Of(r, call.LookupExternal.WithValues) : null]),
            ShardCall.OpOneofCase.Parents => s => ShardCallCodec.ForestReply(s.Parents(call.Parents.Rung)),
            ShardCall.OpOneofCase.Counts => s =>
            {
                var (vectors, duplicates) = s.Counts();
                return new ShardReply { Counts = new Counts { Vectors = vectors, Duplicates = duplicates } };
            }
            ,
            ShardCall.OpOneofCase.Names => s => ShardCallCodec.NamesReply(s.Records()),
            _ => _ => new ShardReply { Failed = $"unknown shard call {call.OpCase}" },
        };

        try
        {
            return await local.Mailbox.SendAsync(() => turn(local.Shard), deadline).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return new ShardReply { NotOwner = new NotOwner() };
        }
        catch (Exception e) when (e is InvalidOperationException or DeadlineExceededException or InvalidProtocolBufferException)
        {
            return new ShardReply { Failed = e.Message };
        }
    }
}
