using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using LshCluster.Core.Hashing;
using LshCluster.Core.Vectors;
using LshCluster.Protocol;
using LshCluster.Protocol.Internal;
using LshCluster.Protocol.V1;

namespace LshCluster.Client;

/// <summary>
/// A producer's connection to an LshCluster. Inserts are hashed here, in the producer's process, with the cluster's
/// scheme, then sent to the silo where placement puts each vector's home shard according to a cached shard map (any
/// silo takes any vector; this one does its home's work locally). An item answered "unavailable", or a silo that cannot
/// be reached, makes the client read the map again and resend what was not acknowledged — safe, because re-sending an
/// id returns its original verdict. Thread-safe.
/// </summary>
public sealed class LshClusterClient : IAsyncDisposable, IDisposable
{
    private readonly LshClusterClientOptions _options;
    private readonly SiloChannels _channels;
    private volatile HashRouter _router;
    private long _schemeReadAt = System.Diagnostics.Stopwatch.GetTimestamp();
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private volatile ShardMap _map = new();

    private LshClusterClient(LshClusterClientOptions options, SiloChannels channels, LshScheme scheme)
    {
        _options = options;
        _channels = channels;
        _router = new HashRouter(scheme);
    }

    /// <summary>
    /// The cluster's LSH scheme, as the silos hash. While the cluster is learning its hashing (ADR 0009) the client reads
    /// it again at most once a second before an insert, and the silos hash again what it hashed with an older one.
    /// </summary>
    public LshScheme Scheme => _router.Scheme;

    // How often the scheme of a learning cluster is read again.
    private static readonly TimeSpan LearningSchemeRecheck = TimeSpan.FromSeconds(1);

    /// <summary>The version of the shard map in use.</summary>
    public long ShardMapVersion => _map.Version;

    /// <summary>Inserts sent again after an "unavailable" answer or an unreachable silo, since the client was created.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    private long _retries;

    /// <summary>Reads the scheme and the shard map from the first seed that answers.</summary>
    /// <exception cref="RpcException">UNAVAILABLE: no seed answered.</exception>
    public static async Task<LshClusterClient> ConnectAsync(LshClusterClientOptions options, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var errors = new List<string>();
        var channels = new SiloChannels(options);
        foreach (var seed in options.Seeds)
        {
            try
            {
                var silo = new Silo.SiloClient(channels[seed.ToString()]);
                var blob = await silo.GetSchemeAsync(new GetSchemeRequest(), channels.Options(DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10), cancellationToken)).ConfigureAwait(false);
                var client = new LshClusterClient(options, channels, LshScheme.FromBytes(blob.Scheme.Span));
                await client.RefreshMapAsync(cancellationToken).ConfigureAwait(false);
                return client;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                errors.Add($"{seed}: {e.Status.Detail}");
            }
            catch
            {
                channels.Dispose();
                throw;
            }
        }

        channels.Dispose();
        var detail = $"no seed silo answered ({string.Join("; ", errors)})";
        throw new RpcException(new Status(StatusCode.Unavailable, detail), detail);
    }

    /// <summary>
    /// Inserts a batch; returns one result per vector, in order: a verdict, or an error naming the field (nothing was
    /// stored for it). Vectors whose home silo is moving or died are resent until <see cref="LshClusterClientOptions.Deadline"/>;
    /// those still unplaced then get the error code <c>unavailable</c>.
    /// </summary>
    public Task<IReadOnlyList<InsertResult>> InsertAsync(IReadOnlyList<Vector> vectors, CancellationToken cancellationToken = default) =>
        InsertCoreAsync(vectors.Count, i => vectors[i].Id, i => [.. vectors[i].Values], cancellationToken);

    /// <summary>
    /// Inserts a batch given as ids and arrays, as <see cref="InsertAsync(IReadOnlyList{Vector}, CancellationToken)"/>
    /// does. The arrays are sent as they are, not copied: they must not change until the call returns.
    /// </summary>
    /// <exception cref="ArgumentException">The lists differ in length, or an id is null.</exception>
    public Task<IReadOnlyList<InsertResult>> InsertAsync(IReadOnlyList<string> ids, IReadOnlyList<float[]> values, CancellationToken cancellationToken = default)
    {
        if (ids.Count != values.Count)
        {
            throw new ArgumentException($"values: {values.Count} arrays for {ids.Count} ids; give one per id", nameof(values));
        }

        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i] is null)
            {
                throw new ArgumentException($"ids[{i}]: null; every vector needs an id", nameof(ids));
            }
        }

        return InsertCoreAsync(ids.Count, i => ids[i], i => values[i], cancellationToken);
    }

    private async Task<IReadOnlyList<InsertResult>> InsertCoreAsync(int count, Func<int, string> idOf, Func<int, float[]> valuesOf, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + _options.Deadline;
        var router = await RouterAsync(cancellationToken).ConfigureAwait(false);
        var results = new InsertResult?[count];
        var hashed = new HashedVector?[count];
        Parallel.For(0, count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            var values = valuesOf(i);
            var error = VectorValidator.Validate(values, Scheme.Dimension, $"items[{i}].vector");
            if (error is not null)
            {
                results[i] = new InsertResult { Index = i, Error = new ItemError { Field = error.Field, Code = error.Code.Name(), Message = error.Message } };
            }
            else
            {
                hashed[i] = Hash(router, i, idOf(i), values);
            }
        });

        var pending = Enumerable.Range(0, count).Where(i => hashed[i] is not null).ToList();
        var backoff = TimeSpan.FromMilliseconds(20);
        while (pending.Count > 0)
        {
            var map = _map;
            var retry = new ConcurrentBag<int>();
            var sends = new List<Task>();
            foreach (var group in pending.GroupBy(i => OwnerOf(map, idOf(i))))
            {
                if (group.Key is null)
                {
                    foreach (var i in group)
                    {
                        retry.Add(i);
                    }

                    continue;
                }

                foreach (var chunk in group.Chunk(_options.MaxVectorsPerRequest))
                {
                    sends.Add(SendAsync(group.Key, chunk, hashed, router.Scheme.Fingerprint, results, retry, deadline, cancellationToken));
                }
            }

            await Task.WhenAll(sends).ConfigureAwait(false);
            pending = [.. retry.Order()];
            if (pending.Count == 0)
            {
                break;
            }

            Interlocked.Add(ref _retries, pending.Count);
            if (DateTimeOffset.UtcNow + backoff > deadline)
            {
                foreach (var i in pending)
                {
                    results[i] = new InsertResult
                    {
                        Index = i,
                        Error = new ItemError { Field = $"items[{i}]", Code = "unavailable", Message = $"items[{i}]: no silo took it before the deadline (its home shard is moving or its silo died); nothing was stored, send it again" },
                    };
                }

                break;
            }

            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromMilliseconds(500).Ticks));
            await RefreshMapAsync(cancellationToken).ConfigureAwait(false);
        }

        return results!;
    }

    private async Task SendAsync(string owner, int[] chunk, HashedVector?[] hashed, ulong schemeFingerprint, InsertResult?[] results, ConcurrentBag<int> retry,
        DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var request = new HashedInsertRequest { SchemeFingerprint = schemeFingerprint };
        foreach (var i in chunk)
        {
            request.Vectors.Add(hashed[i]);
        }

        try
        {
            // One attempt may take part of the deadline only: an answer stuck behind a takeover is asked again (an id
            // sent twice is stored once and answered with its first verdict).
            var attempt = DateTimeOffset.UtcNow + _options.AttemptTimeout;
            var response = await new Silo.SiloClient(_channels[owner]).InsertHashedAsync(request, _channels.Options(attempt < deadline ? attempt : deadline, cancellationToken)).ConfigureAwait(false);
            foreach (var r in response.Results)
            {
                // Both say nothing was stored for the item and sending it again is safe (stored at most once).
                if (r.Error?.Code is "unavailable" or "retry")
                {
                    retry.Add(r.Index);
                }
                else
                {
                    results[r.Index] = r;
                }
            }
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.ResourceExhausted
            || (e.StatusCode is StatusCode.DeadlineExceeded && DateTimeOffset.UtcNow < deadline))
        {
            // Unreachable, stopping, or overloaded: nothing acknowledged; the items go again after a pause.
            foreach (var i in chunk)
            {
                retry.Add(i);
            }
        }
    }

    /// <summary>The router of the scheme now: a learning scheme's is replaced once the cluster has fixed it.</summary>
    private async ValueTask<HashRouter> RouterAsync(CancellationToken cancellationToken)
    {
        var router = _router;
        if (!router.Scheme.IsLearning || System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _schemeReadAt)) < LearningSchemeRecheck)
        {
            return router;
        }

        Interlocked.Exchange(ref _schemeReadAt, System.Diagnostics.Stopwatch.GetTimestamp());
        foreach (var silo in _map.Owners.Where(o => o.Length > 0).Distinct().Concat(_options.Seeds.Select(s => s.ToString())))
        {
            try
            {
                var blob = await new Silo.SiloClient(_channels[silo]).GetSchemeAsync(new GetSchemeRequest(),
                    _channels.Options(DateTimeOffset.UtcNow + TimeSpan.FromSeconds(5), cancellationToken)).ConfigureAwait(false);
                var scheme = LshScheme.FromBytes(blob.Scheme.Span);
                if (scheme.Fingerprint != router.Scheme.Fingerprint)
                {
                    _router = router = new HashRouter(scheme);
                }

                return router;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                // The next silo; with none answering, the silos hash the vectors again themselves.
            }
        }

        return router;
    }

    private static HashedVector Hash(HashRouter router, int index, string id, float[] values)
    {
        var keys = PackedArrays.Writer<ulong>(router.Scheme.Tables);
        var probes = PackedArrays.Writer<ulong>(router.ProbeKeyCount);
        var projection = PackedArrays.Writer<float>(router.ProjectionLength);
        router.Route(id, values, keys.Span, probes.Span, projection.Span, out var sketch, out var squaredNorm);
        return new HashedVector
        {
            Index = index,
            Id = id,
            Values = UnsafeByteOperations.UnsafeWrap(NumberBytes.Bytes(values)),
            Keys = keys.ToByteString(),
            ProbeKeys = probes.ToByteString(),
            SketchLow = sketch.Low,
            SketchHigh = sketch.High,
            Projection = projection.ToByteString(),
            SquaredNorm = squaredNorm,
        };
    }

    private string? OwnerOf(ShardMap map, string externalId)
    {
        var shard = Scheme.HomeShard(externalId);
        return shard < map.Owners.Count && map.Owners[shard] is { Length: > 0 } owner ? owner : null;
    }

    /// <summary>Reads the shard map again from any silo that answers (one read at a time).</summary>
    public async Task RefreshMapAsync(CancellationToken cancellationToken = default)
    {
        var before = _map.Version;
        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_map.Version != before && _map.Owners.Count > 0)
            {
                return; // another caller refreshed meanwhile
            }

            _map = await AnySiloAsync((silo, call) => new Admin.AdminClient(silo).GetShardMapAsync(new GetShardMapRequest(), call), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>Query.GetVector on any silo.</summary>
    public Task<GetVectorResponse> GetVectorAsync(string id, CancellationToken cancellationToken = default) =>
        AnySiloAsync((silo, call) => new Query.QueryClient(silo).GetVectorAsync(new GetVectorRequest { Id = id }, call), cancellationToken);

    /// <summary>Query.GetCluster on any silo.</summary>
    public Task<Cluster> GetClusterAsync(GetClusterRequest request, CancellationToken cancellationToken = default) =>
        AnySiloAsync((silo, call) => new Query.QueryClient(silo).GetClusterAsync(request, call), cancellationToken);

    /// <summary>Query.NearDuplicates on any silo.</summary>
    public Task<NearDuplicatesResponse> NearDuplicatesAsync(NearDuplicatesRequest request, CancellationToken cancellationToken = default) =>
        AnySiloAsync((silo, call) => new Query.QueryClient(silo).NearDuplicatesAsync(request, call), cancellationToken);

    /// <summary>Query.ListClusters on any silo.</summary>
    public Task<ListClustersResponse> ListClustersAsync(ListClustersRequest request, CancellationToken cancellationToken = default) =>
        AnySiloAsync((silo, call) => new Query.QueryClient(silo).ListClustersAsync(request, call), cancellationToken);

    /// <summary>Query.GetStats on any silo.</summary>
    public Task<Stats> GetStatsAsync(CancellationToken cancellationToken = default) =>
        AnySiloAsync((silo, call) => new Query.QueryClient(silo).GetStatsAsync(new GetStatsRequest(), call), cancellationToken);

    /// <summary>
    /// Admin.Delete on any silo (needs an admin key when the cluster has keys): each id's result says whether it was
    /// stored and now is not. Sent again to another silo when one does not answer, so a delete whose first answer was
    /// lost reports the id as not stored.
    /// </summary>
    public async Task<IReadOnlyList<DeleteResult>> DeleteAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken = default)
    {
        var request = new DeleteRequest();
        request.Ids.AddRange(ids);
        return [.. (await AnySiloAsync((silo, call) => new Admin.AdminClient(silo).DeleteAsync(request, call), cancellationToken).ConfigureAwait(false)).Results];
    }

    /// <summary>Admin.ListSilos on any silo.</summary>
    public Task<ListSilosResponse> ListSilosAsync(CancellationToken cancellationToken = default) =>
        AnySiloAsync((silo, call) => new Admin.AdminClient(silo).ListSilosAsync(new ListSilosRequest(), call), cancellationToken);

    /// <summary>
    /// The change feed after <paramref name="after"/> (0: from the oldest event kept): every acknowledged verdict, merge
    /// and deletion in commit order, as they are committed, until cancelled. When the silo serving it goes away the
    /// feed continues from another, after the last event received: nothing is missed and nothing seen twice. Keep the
    /// cursor of the last event handled to resume in a later process.
    /// </summary>
    /// <exception cref="RpcException">OUT_OF_RANGE: the cursor is older than the feed keeps; or the call was refused.</exception>
    public async IAsyncEnumerable<WatchEvent> WatchAsync(ulong after = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var last = after;
        for (var attempt = 0; ; attempt++)
        {
            var candidates = _map.Owners.Where(o => o.Length > 0).Distinct().Concat(_options.Seeds.Select(s => s.ToString().TrimEnd('/'))).Distinct().ToList();
            var address = candidates[attempt % candidates.Count];
            using var call = new Feed.FeedClient(_channels[address]).Watch(new WatchRequest { After = last }, _channels.Options(DateTimeOffset.MaxValue, cancellationToken));
            while (true)
            {
                bool more;
                try
                {
                    more = await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException("the feed was cancelled by its reader", e, cancellationToken);
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Cancelled)
                {
                    Interlocked.Increment(ref _retries);
                    break; // the silo went away mid-stream: resume on the next one after the last event received
                }

                if (!more)
                {
                    break;
                }

                last = call.ResponseStream.Current.Cursor;
                attempt = 0;
                yield return call.ResponseStream.Current;
            }

            await Task.Delay(attempt < candidates.Count ? 50 : 500, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Makes <paramref name="call"/> to the first silo that answers: those in the shard map, then the seeds.
    /// </summary>
    private async Task<TResponse> AnySiloAsync<TResponse>(Func<CallInvoker, CallOptions, AsyncUnaryCall<TResponse>> call, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + _options.Deadline;
        RpcException? last = null;
        var candidates = _map.Owners.Where(o => o.Length > 0).Distinct().Concat(_options.Seeds.Select(s => s.ToString().TrimEnd('/'))).Distinct().ToList();
        while (DateTimeOffset.UtcNow < deadline)
        {
            foreach (var address in candidates)
            {
                try
                {
                    // A hung silo holds a read for one attempt, not the whole deadline; the next silo is asked then.
                    var attempt = DateTimeOffset.UtcNow + _options.AttemptTimeout;
                    return await call(_channels[address], _channels.Options(attempt < deadline ? attempt : deadline, cancellationToken)).ConfigureAwait(false);
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable
                    || (e.StatusCode is StatusCode.DeadlineExceeded && DateTimeOffset.UtcNow < deadline))
                {
                    last = e;
                }
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }

        throw last ?? new RpcException(new Status(StatusCode.Unavailable, "no silo answered before the deadline"), "no silo answered before the deadline");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _channels.Dispose();
        _refreshing.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
