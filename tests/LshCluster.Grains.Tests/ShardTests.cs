using LshCluster.Grains.Shards;
using LshCluster.Storage;

namespace LshCluster.Grains.Tests;

/// <summary>The plain shard class, turn by turn, with a clock the test moves.</summary>
public sealed class ShardTests
{
    [Fact]
    public async Task A_registration_never_finished_blocks_its_id_until_it_is_an_orphan_then_a_resend_takes_it_over()
    {
        var clock = new ManualClock();
        var shard = new Shard(7, rungs: 1, clock, new VectorDirectory());
        var first = shard.Register([Item("doc")], out var isNew)[0];
        Assert.True(isNew[0]);

        // Within the bound the id is the first insert's, whose verdict a resend waits for.
        clock.Advance(Shard.OrphanAfter - TimeSpan.FromSeconds(1));
        Assert.Same(first, shard.Register([Item("doc")], out isNew)[0]);
        Assert.False(isNew[0]);

        // Past it, nothing finished that insert: a resend registers the id afresh, the old record's waiters learn why,
        // and the old id is forgotten (a ghost in the forests, never a candidate to check).
        clock.Advance(TimeSpan.FromSeconds(2));
        var second = shard.Register([Item("doc")], out isNew)[0];
        Assert.True(isNew[0]);
        Assert.NotEqual(first.Id, second.Id);
        Assert.Contains("never finished", (await Assert.ThrowsAsync<InvalidOperationException>(() => first.Verdict)).Message);
        Assert.Null(shard.Find(first.Id));
        Assert.Same(second, shard.Find("doc"));
    }

    [Fact]
    public void An_acknowledged_insert_keeps_its_id_however_old()
    {
        var clock = new ManualClock();
        var shard = new Shard(7, rungs: 1, clock, new VectorDirectory());
        var first = shard.Register([Item("doc")], out _)[0];
        first.Acknowledge(new StoredVerdict(false, first.Id, 0, 0));

        clock.Advance(Shard.OrphanAfter * 3);

        Assert.Same(first, shard.Register([Item("doc")], out var isNew)[0]);
        Assert.False(isNew[0]);
    }

    [Fact]
    public void Checks_made_outside_the_turns_find_what_a_turn_finds_and_skip_a_vector_being_deleted()
    {
        var shard = new Shard(3, rungs: 1, new ManualClock(), new VectorDirectory());
        float[][] stored = [[1, 0, 0, 0], [0.99f, 0.14f, 0, 0], [0.9f, 0.43f, 0, 0], [0, 1, 0, 0]];
        var records = shard.Register([.. stored.Select((v, i) => Vector($"v{i}", v))], out _);
        foreach (var r in records)
        {
            r.Acknowledge(new StoredVerdict(false, r.Id, 0, 0));
        }

        float[] values = [1, 0.05f, 0, 0];
        float[] projection = [values[0], values[1]];
        var query = new VerifyQuery(5, 999, values, Dot(values, values), projection, Dot(projection, projection));
        Verification[] checks = [.. records.Select(r => new Verification(query, r.Id))];
        var here = new List<FoundEdge>();
        shard.Verify(checks, lowestRung: 0.95f, screen: 0.9f, here);

        var header = new QueryHeader(5, 999, query.SquaredNorm, query.ProjectionSquaredNorm);
        var inTurn = shard.Verify([header], [query.ValueBytes], [query.ProjectionBytes],
            [.. records.Select(r => new PackedCheck(0, r.Id))], lowestRung: 0.95f, screen: 0.9f);

        Assert.Equal([records[0].Id, records[1].Id], here.Select(e => e.OtherId));
        Assert.Equal(inTurn, here);
        Assert.All(here, e => Assert.Equal((5, 999L), (e.Item, e.VectorId)));

        // A delete under way takes the vector out of every check, before the deletion is durable.
        Assert.Equal(DeleteStart.Started, shard.BeginDelete(["v0"])[0].Start);
        here.Clear();
        shard.Verify(checks, lowestRung: 0.95f, screen: 0.9f, here);
        Assert.Equal([records[1].Id], here.Select(e => e.OtherId));
        Assert.Null(shard.FindMatchable(records[0].Id));
        Assert.NotNull(shard.Find(records[0].Id));
    }

    [Fact]
    public async Task Checks_outside_the_turns_run_safely_beside_turns_that_register_and_forget()
    {
        var shard = new Shard(3, rungs: 1, new ManualClock(), new VectorDirectory());
        float[] values = [1, 0, 0, 0];
        var kept = shard.Register([Vector("kept", values)], out _)[0];
        var query = new VerifyQuery(0, 1, values, 1, [1, 0], 1);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var rounds = 0;

        // One thread plays the shard's turns, registering and forgetting vectors; the other checks all the while, until
        // each has done enough beside the other (a thread of its own: other tests may hold the pool's threads).
        var turns = Task.Factory.StartNew(() =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested && (n < 5_000 || Volatile.Read(ref rounds) < 5_000))
            {
                var r = shard.Register([Vector($"churn{n++}", values)], out _)[0];
                shard.Unregister([r.Id], new InvalidOperationException("forgotten"));
            }

            return n;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        while (!turns.IsCompleted)
        {
            var found = new List<FoundEdge>();
            shard.Verify([new Verification(query, kept.Id)], 0.99f, 0.9f, found);
            Assert.Equal(kept.Id, Assert.Single(found).OtherId);
            Interlocked.Increment(ref rounds);
        }

        Assert.True(await turns >= 5_000, "the turns did not run");
        Assert.True(rounds >= 5_000, "the checks did not run");
    }

    private static Registration Vector(string id, float[] values) => new(id, values, Dot(values, values), [values[0], values[1]]);

    private static float Dot(float[] a, float[] b) => a.Zip(b, (x, y) => x * y).Sum();

    private static Registration Item(string id) => new(id, [1, 0, 0, 0], 1, [1, 0]);

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
