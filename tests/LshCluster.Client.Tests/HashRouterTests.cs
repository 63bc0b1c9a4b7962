using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using LshCluster.Core.Hashing;
using Microsoft.Extensions.DependencyInjection;

namespace LshCluster.Client.Tests;

public sealed class HashRouterTests
{
    private static readonly LshScheme Scheme = new(LshFamily.CrossPolytope, 100, 2, 8, seed: 3, [0.95f, 0.9f], shardCount: 256, probes: 3);

    [Fact]
    public void Routing_hashes_exactly_as_the_silos_do_and_names_the_id_home_shard()
    {
        var router = new HashRouter(Scheme);
        var hasher = new LshHasher(Scheme);
        var rng = new SplitMix64(9);
        for (var n = 0; n < 50; n++)
        {
            var values = Enumerable.Range(0, 100).Select(_ => (float)rng.NextGaussian()).ToArray();
            var id = $"doc-{n}";
            var keys = new ulong[Scheme.Tables];
            var probes = new ulong[router.ProbeKeyCount];
            var projection = new float[router.ProjectionLength];
            var shard = router.Route(id, values, keys, probes, projection, out var sketch, out var norm);

            var expectedKeys = new ulong[Scheme.Tables];
            var expectedProbes = new ulong[Scheme.Tables * Scheme.Probes];
            hasher.Hash(values, expectedKeys, default, expectedProbes);
            var expectedProjection = new float[hasher.ProjectionLength];
            Assert.Equal(hasher.ComputeSketch(values, expectedProjection), sketch);
            Assert.Equal(expectedKeys, keys);
            Assert.Equal(expectedProbes, probes);
            Assert.Equal(expectedProjection, projection);
            Assert.Equal(Scheme.HomeShard(id), shard);
            Assert.Equal(values.Sum(v => (double)v * v), norm, 2);
        }
    }

    [Fact]
    public void Routing_allocates_nothing()
    {
        var router = new HashRouter(Scheme);
        var values = Enumerable.Range(0, 100).Select(i => (float)Math.Sin(i)).ToArray();
        var keys = new ulong[Scheme.Tables];
        var probes = new ulong[router.ProbeKeyCount];
        var projection = new float[router.ProjectionLength];
        router.Route("warm-up", values, keys, probes, projection, out _, out _);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var n = 0; n < 100; n++)
        {
            router.Route("doc", values, keys, probes, projection, out _, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Options_refuse_what_cannot_work_naming_the_setting()
    {
        Assert.Contains("Seeds", Assert.Throws<ArgumentException>(() => new LshClusterClientOptions().Validate()).Message, StringComparison.Ordinal);
        var options = new LshClusterClientOptions { Deadline = TimeSpan.Zero };
        options.Seeds.Add(new Uri("http://127.0.0.1:1"));
        Assert.Contains("Deadline", Assert.Throws<ArgumentException>(options.Validate).Message, StringComparison.Ordinal);
        options.Deadline = TimeSpan.FromSeconds(1);
        options.MaxVectorsPerRequest = 0;
        Assert.Contains("MaxVectorsPerRequest", Assert.Throws<ArgumentException>(options.Validate).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registered_client_connects_when_resolved_and_says_which_seed_did_not_answer()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var services = new ServiceCollection();
        services.AddLshClusterClient(o => o.Seeds.Add(new Uri($"http://127.0.0.1:{port}")));
        using var provider = services.BuildServiceProvider();
        Assert.NotNull(provider.GetRequiredService<LshClusterClientOptions>());
        var error = Assert.Throws<RpcException>(() => provider.GetRequiredService<LshClusterClient>());
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains($"127.0.0.1:{port}", error.Status.Detail, StringComparison.Ordinal);
    }
}
