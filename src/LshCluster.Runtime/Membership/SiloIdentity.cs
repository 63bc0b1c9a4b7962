namespace LshCluster.Runtime.Membership;

/// <summary>
/// One incarnation of a silo: its address and the generation it got when it joined. A restarted silo is a new
/// incarnation, so nothing the old one held (leases, shards) carries over to it by mistake.
/// </summary>
public readonly record struct SiloIdentity(string Address, long Generation)
{
    /// <summary>The owner name written into shard leases: <c>address#generation</c>.</summary>
    public override string ToString() => $"{Address}#{Generation}";
}

/// <summary>A row of the membership table as the database judges it now.</summary>
/// <param name="Identity">The incarnation.</param>
/// <param name="Status"><c>active</c>, <c>draining</c> (handing its shards away) or <c>left</c>.</param>
/// <param name="Alive">Whether its lease is unexpired by the database's clock and it has not left.</param>
/// <param name="LeaseExpires">When its lease runs out unless renewed.</param>
/// <param name="StartedAt">When it joined.</param>
public sealed record SiloEntry(SiloIdentity Identity, string Status, bool Alive, DateTimeOffset LeaseExpires, DateTimeOffset StartedAt)
{
    /// <summary>The status as the APIs show it: <see cref="Status"/> while alive, then <c>left</c> or <c>dead</c>.</summary>
    public string Shown => Alive ? Status : (Status == "left" ? "left" : "dead");

    /// <summary>Whether it takes shards: alive and neither draining nor gone (placement's candidates).</summary>
    public bool Active => Alive && Status == "active";

    /// <summary>Whether the APIs list it: alive, or started within the last hour (recent deaths and departures).</summary>
    public bool Listed => Alive || StartedAt > DateTimeOffset.UtcNow.AddHours(-1);
}

/// <summary>A shard's lease as stored: its owner (null when released), epoch, and whether that owner is alive.</summary>
public sealed record ShardOwnership(int Shard, string? Owner, long Epoch, bool OwnerAlive);
