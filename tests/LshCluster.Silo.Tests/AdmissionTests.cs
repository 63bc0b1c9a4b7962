using LshCluster.Silo.Engine;

namespace LshCluster.Silo.Tests;

/// <summary>Admission on shard grains: a bound on the vectors of the batches under way, not on how many batches.</summary>
public sealed class AdmissionTests : IDisposable
{
    private readonly TempStores _stores = new();

    [Fact]
    public async Task A_batch_that_would_pass_the_bound_is_refused_unless_it_is_alone_and_room_comes_back_when_batches_end()
    {
        var options = new DedupEngineOptions { MaxVectorsInFlight = 10 };
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), TempStores.Plan(16, [0.9f]), options);

        var first = engine.Admit(8);
        Assert.Equal(1, engine.BatchesInFlight);
        using (engine.Admit(2))
        {
            var refused = Assert.Throws<OverloadedException>(() => engine.Admit(1));
            Assert.Contains("10 vectors of other insert batches (at most 10)", refused.Message, StringComparison.Ordinal);
        }

        first.Dispose();
        Assert.Equal(0, engine.BatchesInFlight);

        // Alone, a batch larger than the bound still goes in (the bound caps what waits beside it, not a batch).
        using (engine.Admit(50))
        {
            Assert.Throws<OverloadedException>(() => engine.Admit(1));
        }

        // Through the API: refused whole, nothing stored.
        using (engine.Admit(10))
        {
            await Assert.ThrowsAsync<OverloadedException>(() => engine.InsertAsync([new VectorInput("a", [.. Enumerable.Range(1, 16).Select(i => (float)i)])]));
        }

        Assert.Equal(0, (await engine.GetStatsAsync()).Vectors);
    }

    public void Dispose() => _stores.Dispose();
}
