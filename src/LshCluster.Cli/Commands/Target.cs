using System.CommandLine;
using Grpc.Core;
using LshCluster.Client;
using LshCluster.Protocol.V1;
using LshCluster.Silo.Cluster;
using LshCluster.Silo.Engine;
using DeleteResult = LshCluster.Silo.Engine.DeleteResult;
using EngineVerdict = LshCluster.Silo.Engine.Verdict;
using InsertResult = LshCluster.Silo.Engine.InsertResult;
using ItemError = LshCluster.Silo.Engine.ItemError;

namespace LshCluster.Cli.Commands;

/// <summary>
/// What the data commands talk to: an embedded engine over <c>--store</c>, or a running cluster at <c>--server</c>
/// through <see cref="LshClusterClient"/>. Both answer with the engine's types, so that each command prints the same.
/// </summary>
internal abstract class Target : IAsyncDisposable
{
    public static Option<string?> Store() => new("--store") { Description = $"sqlite:PATH (embedded) or postgres:CONNECTION-STRING (default: ${StoreOptions.EnvironmentVariable})" };

    public static Option<string?> Server() => new("--server") { Description = $"URL of any silo of a running cluster (e.g. http://127.0.0.1:7001); the API key, if it asks for one, from ${Silo.Security.Credentials.ClientKeyVariable}" };

    /// <summary>Opens the target named by exactly one of <c>--store</c> and <c>--server</c>.</summary>
    public static async Task<Target> OpenAsync(string? store, string? server)
    {
        if (store is null && server is null)
        {
            store = Environment.GetEnvironmentVariable(StoreOptions.EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        }

        if ((store is null) == (server is null))
        {
            throw new ArgumentException($"give exactly one of --store STORE (embedded) and --server URL (a running cluster); --store defaults to ${StoreOptions.EnvironmentVariable}", "store");
        }

        if (store is not null)
        {
            return new EngineTarget(await StoreOptions.OpenAsync(store));
        }

        if (!Uri.TryCreate(server, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"--server: '{server}' is not an http:// or https:// URL of a silo", "server");
        }

        // The key comes from the environment, never an option: command lines land in shell histories and in ps.
        var options = new LshClusterClientOptions { ApiKey = Environment.GetEnvironmentVariable(Silo.Security.Credentials.ClientKeyVariable) is { Length: > 0 } key ? key : null };
        options.Seeds.Add(url);
        try
        {
            return new ClusterTarget(await LshClusterClient.ConnectAsync(options));
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
        {
            throw new InvalidOperationException($"--server: {server} refused the credentials ({e.Status.Detail}); set ${Silo.Security.Credentials.ClientKeyVariable} to an API key of the cluster", e);
        }
        catch (RpcException e)
        {
            throw new InvalidOperationException($"--server: {server} did not answer ({e.Status.Detail})", e);
        }
    }

    public abstract Core.Hashing.LshScheme Scheme { get; }

    public IReadOnlyList<float> Rungs => Scheme.Rungs;

    public abstract int MaxBatchSize { get; }

    public int RungIndexOf(float? rung) => Scheme.RungIndex(rung);

    public abstract Task<IReadOnlyList<InsertResult>> InsertAsync(IReadOnlyList<VectorInput> items, CancellationToken cancellationToken);

    public abstract Task<EngineVerdict?> GetVerdictAsync(string externalId);

    public abstract Task<ClusterView?> GetClusterOfAsync(string externalId, int rung);

    public abstract Task<IReadOnlyList<Silo.Engine.Neighbour>> FindNearDuplicatesAsync(float[] vector, float? minCosine);

    public abstract Task<IReadOnlyList<ClusterView>> ListClustersAsync(int rung, int minSize, int top, int membersPerCluster);

    public abstract Task<EngineStats> GetStatsAsync();

    public abstract Task<IReadOnlyList<DeleteResult>> DeleteAsync(IReadOnlyList<string> ids);

    public abstract Task<IReadOnlyList<IReadOnlyList<string>>> ExportClustersAsync(int rung, bool includeSingletons, bool cores);

    /// <summary>The change feed after a cursor, in the REST API's shape, until cancelled.</summary>
    public abstract IAsyncEnumerable<Silo.Http.EventReply> WatchAsync(long after, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    private sealed class EngineTarget(DedupEngine engine) : Target
    {
        public override Core.Hashing.LshScheme Scheme => engine.Scheme;

        public override int MaxBatchSize => engine.MaxBatchSize;

        public override Task<IReadOnlyList<InsertResult>> InsertAsync(IReadOnlyList<VectorInput> items, CancellationToken cancellationToken) => engine.InsertAsync(items, cancellationToken);

        public override Task<EngineVerdict?> GetVerdictAsync(string externalId) => engine.GetVerdictAsync(externalId);

        public override Task<ClusterView?> GetClusterOfAsync(string externalId, int rung) => engine.GetClusterOfAsync(externalId, rung);

        public override async IAsyncEnumerable<Silo.Http.EventReply> WatchAsync(long after, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var entry in engine.WatchAsync(after, cancellationToken))
            {
                yield return Silo.Http.EventReply.Of(entry, engine.Rungs);
            }
        }

        public override Task<IReadOnlyList<Silo.Engine.Neighbour>> FindNearDuplicatesAsync(float[] vector, float? minCosine) => engine.FindNearDuplicatesAsync(vector, minCosine);

        public override Task<IReadOnlyList<ClusterView>> ListClustersAsync(int rung, int minSize, int top, int membersPerCluster) =>
            engine.ListClustersAsync(rung, minSize, 0, top, membersPerCluster);

        public override Task<EngineStats> GetStatsAsync() => engine.GetStatsAsync();

        public override Task<IReadOnlyList<DeleteResult>> DeleteAsync(IReadOnlyList<string> ids) => engine.DeleteAsync(ids);

        public override Task<IReadOnlyList<IReadOnlyList<string>>> ExportClustersAsync(int rung, bool includeSingletons, bool cores) =>
            engine.ExportClustersAsync(rung, includeSingletons, cores);

        public override ValueTask DisposeAsync() => engine.DisposeAsync();
    }

    private sealed class ClusterTarget(LshClusterClient client) : Target
    {
        private const int Page = 1_000;

        public override Core.Hashing.LshScheme Scheme => client.Scheme;

        public override int MaxBatchSize => 10_000;

        public override async Task<IReadOnlyList<InsertResult>> InsertAsync(IReadOnlyList<VectorInput> items, CancellationToken cancellationToken)
        {
            var results = await client.InsertAsync([.. items.Select(i => i.ExternalId)], [.. items.Select(i => i.Values)], cancellationToken);
            return [.. results.Select(ProtoMapping.ToResult)];
        }

        public override async Task<EngineVerdict?> GetVerdictAsync(string externalId)
        {
            try
            {
                return ProtoMapping.FromWire((await client.GetVectorAsync(externalId)).Verdict);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                return null;
            }
        }

        public override async Task<ClusterView?> GetClusterOfAsync(string externalId, int rung)
        {
            try
            {
                return View(await client.GetClusterAsync(new GetClusterRequest { Id = externalId, Rung = Rungs[rung] }));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                return null;
            }
        }

        public override async Task<IReadOnlyList<Silo.Engine.Neighbour>> FindNearDuplicatesAsync(float[] vector, float? minCosine)
        {
            var found = await client.NearDuplicatesAsync(new NearDuplicatesRequest { Values = { vector }, MinCosine = minCosine ?? 0 });
            return [.. found.Neighbours.Select(n => new Silo.Engine.Neighbour(n.Id, (long)n.VectorId, n.Cosine, (long)n.ClusterId))];
        }

        public override async Task<IReadOnlyList<ClusterView>> ListClustersAsync(int rung, int minSize, int top, int membersPerCluster)
        {
            var listed = await client.ListClustersAsync(new ListClustersRequest { Rung = Rungs[rung], MinSize = minSize, Take = top });
            var views = new List<ClusterView>(listed.Clusters.Count);
            foreach (var c in listed.Clusters)
            {
                var full = membersPerCluster == 0 ? c : await client.GetClusterAsync(new GetClusterRequest { ClusterId = c.ClusterId, Rung = Rungs[rung], Take = membersPerCluster });
                views.Add(View(full));
            }

            return views;
        }

        public override async Task<EngineStats> GetStatsAsync()
        {
            var s = await client.GetStatsAsync();
            return new EngineStats((int)s.Vectors, (int)s.Duplicates, s.Shards,
                [.. s.Rungs.Select(r => new Silo.Engine.RungStats(r.Rung, r.Clusters, r.ClusteredVectors, r.LargestCluster)
                {
                    SampledRecall = r.SampledVectors == 0 ? null : new SampledRecall(r.SampledRecall, r.SampledRecallLow, r.SampledRecallHigh, r.SampledVectors, r.SampledPairs),
                })]);
        }

        public override async Task<IReadOnlyList<DeleteResult>> DeleteAsync(IReadOnlyList<string> ids) =>
            [.. (await client.DeleteAsync(ids)).Select(r => new DeleteResult(r.Index, r.Id, r.Deleted, r.Error is { } e ? new ItemError(e.Field, e.Code, e.Message) : null))];

        public override async Task<IReadOnlyList<IReadOnlyList<string>>> ExportClustersAsync(int rung, bool includeSingletons, bool cores)
        {
            if (includeSingletons)
            {
                throw new ArgumentException("--all: listing every vector needs --store (the cluster's API lists clusters of two or more)", "all");
            }

            var clusters = new List<(ulong Id, IReadOnlyList<string> Members)>();
            for (var skip = 0; ; skip += Page)
            {
                var page = await client.ListClustersAsync(new ListClustersRequest { Rung = Rungs[rung], MinSize = 2, Skip = skip, Take = Page });
                foreach (var c in page.Clusters)
                {
                    var members = new List<Protocol.V1.ClusterMember>();
                    for (var from = 0; from < c.Size; from += 10_000)
                    {
                        var read = await client.GetClusterAsync(new GetClusterRequest { ClusterId = c.ClusterId, Rung = Rungs[rung], Skip = from, Take = 10_000, Core = cores });
                        members.AddRange(read.Members);
                        if (read.Members.Count < 10_000)
                        {
                            break; // a core ends before the cluster's size
                        }
                    }

                    if (members.Count < 2)
                    {
                        continue; // a core of one
                    }

                    // The canonical member first, then in id order (first registered first), as the embedded export.
                    clusters.Add((c.ClusterId, [.. members.OrderBy(m => m.VectorId).Select(m => m.Id)]));
                }

                if (page.Clusters.Count < Page)
                {
                    // In cluster id order (the canonical member's id), as the embedded export.
                    return [.. clusters.OrderBy(c => c.Id).Select(c => c.Members)];
                }
            }
        }

        public override async IAsyncEnumerable<Silo.Http.EventReply> WatchAsync(long after, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var e in client.WatchAsync((ulong)after, cancellationToken))
            {
                var at = DateTimeOffset.FromUnixTimeMilliseconds(e.AtUnixMs);
                yield return e.EventCase switch
                {
                    WatchEvent.EventOneofCase.Verdict when e.Verdict.Kind == Protocol.V1.VerdictKind.Duplicate => new((long)e.Cursor, at, "verdict", e.Verdict.Id, (long)e.Verdict.VectorId, true,
                        (long)e.Verdict.ClusterId, null, (long)e.Verdict.BestMatchVectorId, e.Verdict.BestCosine, e.Verdict.Rung),
                    WatchEvent.EventOneofCase.Verdict => new((long)e.Cursor, at, "verdict", e.Verdict.Id, (long)e.Verdict.VectorId, false, (long)e.Verdict.ClusterId, null, null, null, null),
                    WatchEvent.EventOneofCase.Merge => new((long)e.Cursor, at, "merge", null, null, null, (long)e.Merge.ClusterId, (long)e.Merge.IntoClusterId, null, null, e.Merge.Rung),
                    _ => new((long)e.Cursor, at, "deletion", e.Deletion.Id, (long)e.Deletion.VectorId, null, null, null, null, null, null),
                };
            }
        }

        public override ValueTask DisposeAsync() => client.DisposeAsync();

        private static ClusterView View(Protocol.V1.Cluster c) =>
            new(c.Rung, (long)c.ClusterId, c.CanonicalId, c.Size, [.. c.Members.Select(m => new Silo.Engine.ClusterMember(m.Id, (long)m.VectorId, m.CosineToCanonical))])
            {
                Coherence = c.Coherence,
                CoherenceSample = c.CoherenceSample,
                CoreSize = c.CoreSize == 0 ? null : c.CoreSize,
            };
    }
}
