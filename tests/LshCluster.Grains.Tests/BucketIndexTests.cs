using LshCluster.Grains.Shards;
using LshCluster.Storage;

namespace LshCluster.Grains.Tests;

/// <summary>The bucket index against a dictionary of lists, over enough entries to fill many pages and regrow its map.</summary>
public sealed class BucketIndexTests
{
    [Fact]
    public void Lookups_find_every_member_within_the_sketch_distance_and_only_those()
    {
        var index = new BucketIndex(new VectorDirectory());
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

    [Fact]
    public async Task A_reader_beside_the_writer_sees_each_bucket_as_it_was_at_some_moment()
    {
        var index = new BucketIndex(new VectorDirectory());
        const int Keys = 97;
        const long MostEntries = 4_000_000; // many pages, and the map doubled many times while the reader reads
        var written = 0L;
        var reads = 0;
        var writer = Task.Run(() =>
        {
            // Until the reader has read enough beside it. Most buckets new (the map grows); every fifth entry joins one
            // of 97 long-lived buckets.
            for (var id = 0L; id < MostEntries && Volatile.Read(ref reads) < 2_000; id++)
            {
                index.Add(id % 5 == 0 ? (ulong)(id % Keys) : (ulong)id + 1_000, id, 0, 0);
                Volatile.Write(ref written, id + 1);
            }
        });

        while (!writer.IsCompleted || reads == 0)
        {
            var key = reads % Keys;
            var before = Volatile.Read(ref written);
            var found = new PooledList<Candidate>();
            using (index.Reading())
            {
                index.Collect((ulong)key, 0, 0, maxHamming: 0, self: -1, item: 0, found);
            }

            var ids = found.Span.ToArray().Select(c => c.CandidateId).ToArray();
            found.Return();

            // Only members of this bucket, oldest first, each once, and at least all those written before the read began
            // (the ids below `before` that are 0 mod 5 and `key` mod 97: one in every 485 from the first).
            Assert.All(ids, id => Assert.True(id % Keys == key && id % 5 == 0, $"id {id} is not in bucket {key}"));
            Assert.Equal(ids.Order(), ids);
            var first = Enumerable.Range(0, 5 * Keys).First(id => id % 5 == 0 && id % Keys == key);
            var expectedAtLeast = before > first ? ((before - 1 - first) / (5 * Keys)) + 1 : 0;
            Assert.True(ids.Length >= expectedAtLeast, $"read {ids.Length} members of bucket {key}; {expectedAtLeast} were written before the read");
            Interlocked.Increment(ref reads);
        }

        await writer;
        Assert.True(reads >= 2_000 || Volatile.Read(ref written) == MostEntries, "the reader did not overlap the writer");
    }

    [Fact]
    public void A_bucket_larger_than_an_arena_page_keeps_every_member_once_in_order()
    {
        var directory = new VectorDirectory();
        var index = new BucketIndex(directory);
        const int Members = 40_000; // past the largest block (1,023 members): an array of its own, doubled several times
        for (var id = 1L; id <= Members; id++)
        {
            index.Add(7, id, (ulong)id, 0);
            index.Add(8, id, (ulong)id, 0); // the same vectors in a second bucket: one directory entry each
        }

        Assert.Equal(Members, directory.Count);
        foreach (var key in new ulong[] { 7, 8 })
        {
            var found = new PooledList<Candidate>();
            index.Collect(key, 0, 0, maxHamming: 128, self: 5, item: 1, found);
            Assert.Equal(Enumerable.Range(1, Members).Select(i => (long)i).Where(i => i != 5), found.Span.ToArray().Select(c => c.CandidateId));
            found.Return();
        }

        // The sketch filter reads each member's sketch from the directory: the powers of two are within a bit of sketch 0.
        var near = new PooledList<Candidate>();
        index.Collect(7, 0, 0, maxHamming: 1, self: -1, item: 0, near);
        Assert.Equal([1L, 2L, 4L, 8L, 16L, 32L, 64L, 128L, 256L, 512L, 1024L, 2048L, 4096L, 8192L, 16384L, 32768L], near.Span.ToArray().Select(c => c.CandidateId));
        near.Return();
    }
}
