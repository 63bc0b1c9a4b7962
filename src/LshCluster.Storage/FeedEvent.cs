using System.Buffers.Binary;
using System.Text;

namespace LshCluster.Storage;

/// <summary>What a change-feed event tells (ADR 0011).</summary>
public enum FeedEventKind : byte
{
    /// <summary>A vector was stored: new, or a duplicate of <see cref="FeedEvent.Other"/> in cluster <see cref="FeedEvent.Cluster"/>.</summary>
    Verdict = 1,

    /// <summary>At rung <see cref="FeedEvent.Rung"/>, cluster <see cref="FeedEvent.VectorId"/> joined cluster <see cref="FeedEvent.Other"/>.</summary>
    Merge = 2,

    /// <summary>Vector <see cref="FeedEvent.VectorId"/> was deleted.</summary>
    Deletion = 3,
}

/// <summary>
/// One event of the change feed, as a commit wrote it. Fields a kind does not use are 0 (or empty).
/// </summary>
/// <param name="Kind">What happened.</param>
/// <param name="VectorId">The vector stored or deleted; for a merge, the root (cluster id) that joined another.</param>
/// <param name="ExternalId">The vector's external id (verdicts and deletions).</param>
/// <param name="Duplicate">For a verdict: a duplicate, not new.</param>
/// <param name="Other">For a duplicate, its best match; for a merge, the root it joined.</param>
/// <param name="Cluster">For a duplicate, its cluster (the root) at the rung of its best match.</param>
/// <param name="Cosine">For a duplicate, the best match's cosine.</param>
/// <param name="Rung">For a merge, the rung index (0: the highest).</param>
public sealed record FeedEvent(FeedEventKind Kind, long VectorId, string ExternalId, bool Duplicate, long Other, long Cluster, float Cosine, int Rung);

/// <summary>The events of one commit, at their position in the feed.</summary>
/// <param name="Position">The commit's position: 1, 2, 3, … in commit order.</param>
/// <param name="At">When it was committed.</param>
/// <param name="Events">Its events, in the order written.</param>
public sealed record FeedBatch(long Position, DateTimeOffset At, IReadOnlyList<FeedEvent> Events)
{
    /// <summary>How many events a cursor's low part can index in one commit.</summary>
    public const int EventsPerPosition = 1 << 24;

    /// <summary>The cursor of event <paramref name="index"/> of the commit at <paramref name="position"/>.</summary>
    public static long Cursor(long position, int index) => (position * EventsPerPosition) + index;

    /// <summary>The commit position a cursor points into.</summary>
    public static long PositionOf(long cursor) => cursor / EventsPerPosition;

    /// <summary>The event index within its commit a cursor points at.</summary>
    public static int IndexOf(long cursor) => (int)(cursor % EventsPerPosition);
}

/// <summary>A commit's events as the one <c>feed</c> row that holds them (little-endian, versioned by its first byte).</summary>
public static class FeedCodec
{
    private const byte Version = 1;

    /// <summary>The events packed.</summary>
    public static byte[] Pack(IReadOnlyList<FeedEvent> events)
    {
        using var stream = new MemoryStream();
        Span<byte> fixedPart = stackalloc byte[32];
        stream.WriteByte(Version);
        BinaryPrimitives.WriteInt32LittleEndian(fixedPart, events.Count);
        stream.Write(fixedPart[..4]);
        foreach (var e in events)
        {
            var id = Encoding.UTF8.GetBytes(e.ExternalId);
            fixedPart[0] = (byte)e.Kind;
            fixedPart[1] = (byte)e.Rung;
            fixedPart[2] = e.Duplicate ? (byte)1 : (byte)0;
            fixedPart[3] = 0;
            BinaryPrimitives.WriteInt64LittleEndian(fixedPart[4..], e.VectorId);
            BinaryPrimitives.WriteInt64LittleEndian(fixedPart[12..], e.Other);
            BinaryPrimitives.WriteInt64LittleEndian(fixedPart[20..], e.Cluster);
            BinaryPrimitives.WriteSingleLittleEndian(fixedPart[28..], e.Cosine);
            stream.Write(fixedPart);
            BinaryPrimitives.WriteUInt16LittleEndian(fixedPart, checked((ushort)id.Length));
            stream.Write(fixedPart[..2]);
            stream.Write(id);
        }

        return stream.ToArray();
    }

    /// <summary>The events of a packed row.</summary>
    /// <exception cref="InvalidDataException">The row is not a feed row this version reads (the message names <paramref name="position"/>).</exception>
    public static List<FeedEvent> Unpack(ReadOnlySpan<byte> row, long position)
    {
        if (row.Length < 5 || row[0] != Version)
        {
            throw new InvalidDataException($"feed row {position}: not a version {Version} feed row");
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(row[1..]);
        var events = new List<FeedEvent>(count);
        var at = 5;
        for (var i = 0; i < count; i++)
        {
            if (row.Length < at + 34)
            {
                throw new InvalidDataException($"feed row {position}: event {i} of {count} is cut short");
            }

            var e = row[at..];
            var length = BinaryPrimitives.ReadUInt16LittleEndian(e[32..]);
            if (row.Length < at + 34 + length)
            {
                throw new InvalidDataException($"feed row {position}: event {i} of {count} is cut short");
            }

            events.Add(new FeedEvent(
                (FeedEventKind)e[0],
                BinaryPrimitives.ReadInt64LittleEndian(e[4..]),
                Encoding.UTF8.GetString(e.Slice(34, length)),
                e[2] != 0,
                BinaryPrimitives.ReadInt64LittleEndian(e[12..]),
                BinaryPrimitives.ReadInt64LittleEndian(e[20..]),
                BinaryPrimitives.ReadSingleLittleEndian(e[28..]),
                e[1]));
            at += 34 + length;
        }

        return events;
    }
}
