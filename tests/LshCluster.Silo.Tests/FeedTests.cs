using LshCluster.Core.Hashing;
using LshCluster.Silo.Engine;
using LshCluster.Storage;
using static LshCluster.Silo.Tests.EngineTests;

namespace LshCluster.Silo.Tests;

/// <summary>The change feed of the embedded engine (ADR 0011): what is in it, in what order, and resuming by cursor.</summary>
public sealed class FeedTests : IDisposable
{
    private static readonly LshScheme Scheme = TempStores.Plan(64, [0.99f, 0.95f], shards: 16);
    private readonly TempStores _stores = new();

    [Fact]
    public async Task Every_acknowledged_verdict_merge_and_deletion_is_in_the_feed_once_in_commit_order_and_a_consumer_resumes_by_cursor()
    {
        var store = _stores.NewSqlite();
        var (a, b) = Pair(31, 0.995);
        List<FeedEntry> all;
        long aId, bId;
        await using (var engine = await TempStores.CreateAsync(store, Scheme))
        {
            aId = (await engine.InsertAsync(new VectorInput("a", a))).Verdict!.VectorId;
            bId = (await engine.InsertAsync(new VectorInput("b", b))).Verdict!.VectorId;
            await engine.InsertAsync(new VectorInput("b", b)); // a resend: already stored, nothing new
            await engine.InsertAsync(new VectorInput("c", Random(32)));
            Assert.True((await engine.DeleteAsync(["a"]))[0].Deleted);

            // a; b with its merges at both rungs; c; a's deletion — each once, cursors rising.
            all = await ReadAsync(engine, 0, 6);
            await AssertNothingMoreAsync(engine, all[^1].Cursor);
        }

        Assert.Equal(all.Select(e => e.Cursor).Order(), all.Select(e => e.Cursor));
        Assert.Equal(all.Count, all.Select(e => e.Cursor).Distinct().Count());
        Assert.Equal(new FeedEvent(FeedEventKind.Verdict, aId, "a", false, 0, aId, 0, 0), all[0].Event);
        var second = all.Skip(1).Take(3).Select(e => e.Event).ToList(); // one commit: b's links, then its verdict
        Assert.Equal([FeedEventKind.Merge, FeedEventKind.Merge, FeedEventKind.Verdict], second.Select(e => e.Kind));
        Assert.Equal([0, 1], second.Take(2).Select(e => e.Rung).Order());
        Assert.All(second.Take(2), m => Assert.Equal((bId, aId), (m.VectorId, m.Other)));
        Assert.Equal(("b", true, aId, aId, 0), (second[2].ExternalId, second[2].Duplicate, second[2].Other, second[2].Cluster, second[2].Rung));
        Assert.True(second[2].Cosine >= 0.99f);
        Assert.Equal((FeedEventKind.Verdict, "c", false), (all[4].Event.Kind, all[4].Event.ExternalId, all[4].Event.Duplicate));
        Assert.Equal((FeedEventKind.Deletion, aId, "a"), (all[5].Event.Kind, all[5].Event.VectorId, all[5].Event.ExternalId));

        // A consumer that handled the first two resumes after the second's cursor, in a new process: the rest, exactly.
        await using (var reopened = await DedupEngine.OpenAsync(DedupStores.Open(store)))
        {
            Assert.Equal(all.Skip(2), await ReadAsync(reopened, all[1].Cursor, 4));
            await AssertNothingMoreAsync(reopened, all[^1].Cursor);

            // Once retention has dropped the commits, a cursor in them is refused, saying what to do.
            await using (var direct = DedupStores.Open(store))
            {
                await direct.PruneFeedAsync(DateTimeOffset.UtcNow.AddMinutes(1));
            }

            var expired = await Assert.ThrowsAsync<FeedCursorExpiredException>(() => ReadAsync(reopened, all[1].Cursor, 1));
            Assert.Contains("after:", expired.Message, StringComparison.Ordinal);
            Assert.Contains("retention", expired.Message, StringComparison.Ordinal);
        }
    }

    private static async Task<List<FeedEntry>> ReadAsync(DedupEngine engine, long after, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var read = new List<FeedEntry>();
        await foreach (var entry in engine.WatchAsync(after, timeout.Token))
        {
            read.Add(entry);
            if (read.Count == count)
            {
                break;
            }
        }

        return read;
    }

    private static async Task AssertNothingMoreAsync(DedupEngine engine, long after)
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(600));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var entry in engine.WatchAsync(after, wait.Token))
            {
                Assert.Fail($"nothing was committed after cursor {after}, yet the feed gave {entry}");
            }
        });
    }

    public void Dispose() => _stores.Dispose();
}
