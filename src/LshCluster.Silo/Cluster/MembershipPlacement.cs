using LshCluster.Runtime.Membership;

namespace LshCluster.Silo.Cluster;

/// <summary>
/// The shard map as the membership table says: shard → the address of its live owner. Refreshed by the silo's
/// rebalancing loop and on demand when a call finds a shard gone; concurrent refreshes share one read.
/// </summary>
internal sealed class MembershipPlacement(IMembershipStore store, string self, int shardCount) : IShardPlacement
{
    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(100);
    private readonly object _gate = new();
    private string?[] _owners = new string?[shardCount];
    private Task? _refreshing;
    private DateTimeOffset _lastRead = DateTimeOffset.MinValue;

    public string Self { get; } = self;

    /// <summary>Increases whenever a read finds a different map.</summary>
    public long Version { get; private set; }

    /// <summary>The owners' addresses as last read (null: released or owner dead).</summary>
    public IReadOnlyList<string?> Owners => _owners;

    public IReadOnlyList<ShardOwnership> Leases { get; private set; } = [];

    public string? OwnerOf(int shard) => _owners[shard];

    public Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_refreshing is { IsCompleted: false } running)
            {
                return running.WaitAsync(cancellationToken);
            }

            if (DateTimeOffset.UtcNow - _lastRead < MinInterval)
            {
                return Task.CompletedTask;
            }

            // The read is shared: a caller that gives up must not cancel it for the others waiting on it (and a
            // failure nobody waits for any more is observed here, not left to the finalizer).
            _refreshing = ReadAsync(CancellationToken.None);
            _ = _refreshing.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return _refreshing.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Reads the map now (the rebalancing loop).</summary>
    public async Task ReadAsync(CancellationToken cancellationToken = default)
    {
        var leases = await store.ReadShardOwnersAsync(cancellationToken).ConfigureAwait(false);
        var owners = new string?[_owners.Length];
        foreach (var lease in leases)
        {
            if (lease.Shard < owners.Length && lease.Owner is { } owner && lease.OwnerAlive)
            {
                owners[lease.Shard] = AddressOf(owner);
            }
        }

        if (!owners.SequenceEqual(_owners))
        {
            Version++;
        }

        _owners = owners;
        Leases = leases;
        _lastRead = DateTimeOffset.UtcNow;
    }

    /// <summary>The address part of a lease owner <c>address#generation</c>.</summary>
    public static string AddressOf(string owner)
    {
        var hash = owner.LastIndexOf('#');
        return hash > 0 ? owner[..hash] : owner;
    }
}
