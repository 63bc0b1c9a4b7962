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
        var shard = new Shard(7, rungs: 1, clock);
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
        var shard = new Shard(7, rungs: 1, clock);
        var first = shard.Register([Item("doc")], out _)[0];
        first.Acknowledge(new StoredVerdict(false, first.Id, 0, 0));

        clock.Advance(Shard.OrphanAfter * 3);

        Assert.Same(first, shard.Register([Item("doc")], out var isNew)[0]);
        Assert.False(isNew[0]);
    }

    private static Registration Item(string id) => new(id, [1, 0, 0, 0], 1, [1, 0]);

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
