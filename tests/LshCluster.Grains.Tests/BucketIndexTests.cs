using LshCluster.Grains.Shards;
using LshCluster.Storage;

namespace LshCluster.Grains.Tests;

/// <summary>The bucket index against a dictionary of lists, over enough entries to fill many pages and regrow its map.</summary>
public sealed class BucketIndexTests
{
    [Fact]
    public void Lookups_find_every_member_within_the_sketch_distance_and_only_those()
    {
        var index = new BucketIndex();
        var reference = new Dictionary<ulong, List<BucketEntry>>();
        var random = new Random(11);
        for (var id = 1L; id <= 20_000; id++)
        {
            // Few keys for many entries and many keys of one entry, as buckets are.
            var key = id % 3 == 0 ? (ulong)random.Next(50) : (ulong)random.NextInt64();
            var entry = new BucketEntry(key, id, (ulong)random.NextInt64(), (ulong)random.NextInt64());
            index.Add(entry.Key, entry.VectorId, entry.SketchLow, entry.SketchHigh);
            (reference.TryGetValue(key, out var list) ? list : reference[key] = []).Add(entry);
        }

        foreach (var (key, members) in reference.Take(2_000))
        {
            var probe = members[0];
            var found = new PooledList<Candidate>();
            index.Collect(key, probe.SketchLow, probe.SketchHigh, maxHamming: 60, self: probe.VectorId, item: 3, found);
            var expected = members.Where(m => m.VectorId != probe.VectorId
                && ulong.PopCount(m.SketchLow ^ probe.SketchLow) + ulong.PopCount(m.SketchHigh ^ probe.SketchHigh) <= 60).Select(m => m.VectorId);
            Assert.Equal(expected.Order(), found.Span.ToArray().Select(c => c.CandidateId).Order());
            Assert.All(found.Span.ToArray(), c => Assert.Equal(3, c.Item));
            found.Return();
        }

        var none = new PooledList<Candidate>();
        index.Collect(ulong.MaxValue - 1, 0, 0, maxHamming: 128, self: -1, item: 0, none);
        Assert.Equal(0, none.Count);

        Assert.Equal(reference.Values.SelectMany(m => m).OrderBy(e => e.VectorId), index.Entries().OrderBy(e => e.VectorId));
    }
}
