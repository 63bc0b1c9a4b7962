using System.Security.Cryptography.X509Certificates;
using LshCluster.Grains.Placement;
using LshCluster.Runtime.Membership;
using LshCluster.Silo.Cluster;
using LshCluster.Silo.Diagnostics;
using LshCluster.Silo.Engine;
using LshCluster.Silo.Http;
using LshCluster.Storage.Postgres;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using SiloStatus = LshCluster.Silo.Http.SiloStatus;

namespace LshCluster.Silo.Hosting;

/// <summary>
/// One silo: joins the membership table, keeps its lease, claims the shards rendezvous hashing gives it (and hands
/// away those it no longer should own), and serves the public and internal gRPC services. Stops serving the moment
/// it cannot prove its lease; on <see cref="DrainAsync"/> it hands every shard away before leaving.
/// </summary>
public sealed class SiloHost : IAsyncDisposable, IEngineHost
{
    private readonly SiloOptions _options;
    private readonly ILogger _log;
    private readonly PostgresMembershipStore _membership;
    private readonly GrpcRemoteSilos _remote;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource<string> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _web;
    private volatile DedupEngine? _engine;
    private MembershipPlacement? _placement;
    private Task? _loop;
    private Task? _renewing;
    private int _drainStarted; // 1 once a drain began (Interlocked: SIGTERM and a drain request may race)
    private Task? _handOver;
    private HashSet<int> _handingOver = [];
    private long _lastRenewalTicks;

    private SiloHost(SiloOptions options, ILoggerFactory logs)
    {
        _options = options;
        _log = logs.CreateLogger("LshCluster.Silo");
        _membership = new PostgresMembershipStore(options.ConnectionString);
        _remote = new GrpcRemoteSilos(
            options.TlsTrustPath is { } trust ? SiloWeb.LoadTls(() => X509CertificateLoader.LoadCertificateFromFile(trust), trust) : null,
            options.Credentials.ClusterSecret);
    }

    // When the last successful renewal started (read by request threads, written by the renewal loop).
    private DateTimeOffset _lastRenewal
    {
        get => new(Volatile.Read(ref _lastRenewalTicks), TimeSpan.Zero);
        set => Volatile.Write(ref _lastRenewalTicks, value.UtcTicks);
    }

    /// <summary>The URL other silos and clients call.</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>The URL of the REST API, dashboard and metrics (HTTP/1.1), or null when turned off.</summary>
    public string? HttpAddress { get; private set; }

    /// <summary>This incarnation.</summary>
    public SiloIdentity Identity { get; private set; }

    /// <summary>The engine (its shards are those this silo owns).</summary>
    public DedupEngine Engine => _engine ?? throw new InvalidOperationException("the silo has not started");

    internal MembershipPlacement Placement => _placement ?? throw new InvalidOperationException("the silo has not started");

    internal IMembershipStore Membership => _membership;

    /// <summary>Completes with the reason when the silo stops serving (drained, lease lost, store refused a write).</summary>
    public Task<string> Stopped => _stopped.Task;

    /// <summary>Starts a silo: listens, joins, and begins claiming shards. Returns once it serves.</summary>
    public static async Task<SiloHost> StartAsync(SiloOptions options, ILoggerFactory? logs = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var host = new SiloHost(options, logs ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        try
        {
            await host.StartCoreAsync(logs, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return host;
    }

    private async Task StartCoreAsync(ILoggerFactory? logs, CancellationToken cancellationToken)
    {
        // Listen first: the advertised address must be known (port 0 picks one) before joining.
        var siloWeb = SiloWeb.Create(_options, logs, _log, internalService: true);
        var web = siloWeb.Builder.Build();
        HttpSurface.Map(web, this);
        SiloServices.Map(web, this);
        await web.StartAsync(cancellationToken).ConfigureAwait(false);
        _web = web;
        Address = siloWeb.Address;
        HttpAddress = siloWeb.HttpAddress;

        var store = new PostgresDedupStore(_options.ConnectionString);
        try
        {
            await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
            var lsh = await store.ReadSchemeAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create --store postgres:…)");
            Identity = await _membership.JoinAsync(Address, _options.LeaseDuration, cancellationToken).ConfigureAwait(false);
            _lastRenewal = DateTimeOffset.UtcNow;

            // Renew from the start: the first claim and load may take longer than a lease.
            _renewing = Task.Run(RenewAsync, CancellationToken.None);
            _options.Engine.Owner = Identity.ToString();
            _placement = new MembershipPlacement(_membership, Address, lsh.ShardCount);
            _engine = await DedupEngine.OpenSiloAsync(store, _options.Engine, _placement, _remote, cancellationToken).ConfigureAwait(false);
            _log.LogInformation("silo {Identity} joined; {Shards} shards in the cluster", Identity, lsh.ShardCount);
            LshClusterMetrics.MembershipChanges.Add(1, new KeyValuePair<string, object?>("change", "joined"));
        }
        catch
        {
            if (_engine is null)
            {
                await store.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
        await RoundAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(RebalanceAsync, CancellationToken.None);
    }

    /// <summary>Hands every shard to the other silos, then leaves the membership table and stops serving.</summary>
    public async Task DrainAsync()
    {
        if (_engine is null || Interlocked.CompareExchange(ref _drainStarted, 1, 0) != 0)
        {
            return;
        }

        _log.LogInformation("silo {Identity} draining", Identity);
        try
        {
            await _membership.SetDrainingAsync(Identity).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Still active in the table: keep serving as before; a later SIGTERM or Drain call tries again.
            Volatile.Write(ref _drainStarted, 0);
            _log.LogWarning("silo {Identity}: cannot mark itself draining ({Message}); still serving", Identity, e.Message);
            return;
        }

        var until = DateTimeOffset.UtcNow + _options.DrainTimeout;
        while (_engine.LocalShards.Count > 0 && DateTimeOffset.UtcNow < until && !_stopped.Task.IsCompleted)
        {
            await Task.Delay(100).ConfigureAwait(false);
        }

        // Wait until the new owners have claimed, so that requests already routed here find them.
        while (DateTimeOffset.UtcNow < until && !_stopped.Task.IsCompleted)
        {
            await Placement.ReadAsync().ConfigureAwait(false);
            var others = (await _membership.ReadSilosAsync().ConfigureAwait(false)).Any(s => s.Active && s.Identity != Identity);
            if (!others || Placement.Leases.All(l => l.Owner is not null && l.Owner != Identity.ToString() && l.OwnerAlive))
            {
                break;
            }

            await Task.Delay(200).ConfigureAwait(false);
        }

        await _membership.LeaveAsync(Identity).ConfigureAwait(false);
        Stop("drained: every shard was handed over and the silo left the cluster");
    }

    // The lease is renewed by a loop of its own, so that a long load or a slow hand-over never delays it.
    private async Task RenewAsync()
    {
        var pause = _options.RenewInterval;
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(pause, _stopping.Token).ConfigureAwait(false);
                pause = _options.RenewInterval;
                var started = DateTimeOffset.UtcNow;

                // A renewal that hangs (a dropped network) must not outlive the margin the lease leaves.
                using var bounded = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                bounded.CancelAfter(_options.RenewInterval);
                if (!await _membership.RenewAsync(Identity, _options.LeaseDuration, bounded.Token).ConfigureAwait(false))
                {
                    Stop("the lease had lapsed before it was renewed (the silo was paused or cut off); other silos may own its shards now");
                    return;
                }

                _lastRenewal = started;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The database is unreachable or refused: keep trying while the lease may still be valid; stop serving
                // before it can have lapsed, since others may then claim our shards.
                _log.LogWarning("silo {Identity}: lease renewal failed: {Message}", Identity, e.Message);
                if (DateTimeOffset.UtcNow - _lastRenewal > _options.LeaseDuration - _options.RenewInterval)
                {
                    Stop($"the lease could not be renewed for {(DateTimeOffset.UtcNow - _lastRenewal).TotalSeconds:F0} s ({e.Message}); stopped serving before it lapsed");
                    return;
                }

                // Try again soon rather than a whole interval later: one slow or failed renewal on a busy machine must
                // not add up with the next to the margin after which the silo stops serving.
                pause = TimeSpan.FromTicks(Math.Min(_options.RenewInterval.Ticks, TimeSpan.FromMilliseconds(250).Ticks));
            }
        }
    }

    private async Task RebalanceAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.RenewInterval, _stopping.Token).ConfigureAwait(false);
                await RoundAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _log.LogWarning("silo {Identity}: rebalancing round failed: {Message}", Identity, e.Message);
            }
        }
    }

    /// <summary>One round: read the map, hand away and claim shards.</summary>
    private async Task RoundAsync(CancellationToken cancellationToken)
    {
        var engine = Engine;
        if (engine.Fault is { } fault)
        {
            if (DedupEngine.IsStale(fault))
            {
                Stop($"a write was refused because another silo now owns its shard ({fault.Message})");
                return;
            }

            engine = await RecoverAsync(engine, fault, cancellationToken).ConfigureAwait(false);
        }

        var silos = await _membership.ReadSilosAsync(cancellationToken).ConfigureAwait(false);
        var candidates = silos.Where(s => s.Active).Select(s => s.Identity.Address).Distinct().ToList();
        var pins = await _membership.ReadPinsAsync(cancellationToken).ConfigureAwait(false);
        await Placement.ReadAsync(cancellationToken).ConfigureAwait(false);
        var desired = RendezvousPlacement.Owners(engine.Scheme.ShardCount, candidates, pins);
        var mine = engine.LocalShards.ToHashSet();

        // Hand away what another live silo should own (all of it when draining): seal, flush, release. In the
        // background: a seal waits for inserts under way, which may wait for shards this loop has still to claim.
        if (_handOver is null || _handOver.IsCompleted)
        {
            var release = mine.Where(s => desired[s] != Address).Take(_options.MaxMovesPerRound).ToList();
            if (release.Count > 0)
            {
                _handingOver = [.. release];
                _handOver = HandOverAsync(engine, release, cancellationToken);
            }
        }

        // A lease that names this silo for a shard it no longer holds (its release failed) would keep the shard from
        // everyone: release it again, unless a hand-over is still on its way with it.
        if (_handOver is null || _handOver.IsCompleted)
        {
            var me = Identity.ToString();
            var stray = Placement.Leases.Where(l => l.Owner == me && !mine.Contains(l.Shard) && desired[l.Shard] != Address).Select(l => l.Shard).ToList();
            if (stray.Count > 0)
            {
                await _membership.ReleaseShardsAsync(Identity, stray, cancellationToken).ConfigureAwait(false);
                _log.LogInformation("silo {Identity} released {Count} shards it no longer held", Identity, stray.Count);
            }
        }

        // Claim what is ours and free: released, or held by a silo whose lease lapsed. A dead silo's shards are taken
        // all at once (nobody serves them; one pass over the store loads them all); free ones at most MaxMovesPerRound
        // per round, so that the first silo of a cold start does not load the whole store before the others it
        // starts beside are seen.
        if (!Draining)
        {
            var me = Identity.ToString();
            // Not a shard a hand-over under way is sealing: claimed back here (its new owner died during the seal), it
            // would be served again while the hand-over then released its lease — a shard no map shows. Once the
            // hand-over is done, a released shard is free and claimed in a later round.
            var handingOver = _handOver is { IsCompleted: false } ? _handingOver : [];
            var ours = Placement.Leases.Where(l => desired[l.Shard] == Address && !mine.Contains(l.Shard) && !handingOver.Contains(l.Shard)).ToList();
            var claim = ours.Where(l => l.Owner is not null && (!l.OwnerAlive || l.Owner == me)).Select(l => l.Shard)
                .Concat(ours.Where(l => l.Owner is null).Select(l => l.Shard).Take(_options.MaxMovesPerRound))
                .ToList();
            if (claim.Count > 0)
            {
                var claimed = await _membership.TryClaimShardsAsync(Identity, claim, cancellationToken).ConfigureAwait(false);
                if (claimed.Count > 0)
                {
                    var since = await engine.AddShardsAsync(claimed, cancellationToken).ConfigureAwait(false);
                    _log.LogInformation("silo {Identity} took {Count} shards", Identity, claimed.Count);
                    LshClusterMetrics.ShardMoves.Add(claimed.Count, new KeyValuePair<string, object?>("direction", "claimed"));
                    _ = CatchUpAsync([.. claimed.Keys], since);
                }
            }
        }

        await Placement.ReadAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task HandOverAsync(DedupEngine engine, List<int> shards, CancellationToken cancellationToken)
    {
        try
        {
            var released = await engine.SealAsync(shards, SealPatience, cancellationToken).ConfigureAwait(false);
            await _membership.ReleaseShardsAsync(Identity, released, cancellationToken).ConfigureAwait(false);
            await Placement.ReadAsync(cancellationToken).ConfigureAwait(false);
            _log.LogInformation("silo {Identity} handed {Count} shards away", Identity, released.Count);
            LshClusterMetrics.ShardMoves.Add(released.Count, new KeyValuePair<string, object?>("direction", "released"));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _log.LogWarning("silo {Identity}: handing {Count} shards away failed: {Message}", Identity, shards.Count, e.Message);
        }
    }

    // How long a sealed shard waits for its inserts under way; meanwhile new inserts homed there are refused.
    private static readonly TimeSpan SealPatience = TimeSpan.FromSeconds(10);

    /// <summary>
    /// After a write failed for a reason other than fencing (the database restarted, a connection broke), the engine's
    /// memory may hold state of unacknowledged batches: replace it with a fresh engine that claims the same shards
    /// again (new epochs fence anything the old one still had queued) and reloads them from the database.
    /// </summary>
    private async Task<DedupEngine> RecoverAsync(DedupEngine failed, Exception fault, CancellationToken cancellationToken)
    {
        _log.LogWarning("silo {Identity}: a write failed ({Message}); reloading its {Count} shards from the database", Identity, fault.Message, failed.LocalShards.Count);
        if (_handOver is { } handOver)
        {
            // The old engine's hand-over must not release shards the fresh engine is about to claim again.
            await handOver.ConfigureAwait(false);
        }

        var shards = failed.LocalShards;
        var store = new PostgresDedupStore(_options.ConnectionString);
        DedupEngine fresh;
        try
        {
            fresh = await DedupEngine.OpenSiloAsync(store, _options.Engine, Placement, _remote, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        try
        {
            var claimed = await _membership.TryClaimShardsAsync(Identity, shards, cancellationToken).ConfigureAwait(false);
            var since = await fresh.AddShardsAsync(claimed, cancellationToken).ConfigureAwait(false);
            _engine = fresh;
            _ = CatchUpAsync([.. claimed.Keys], since);
        }
        catch
        {
            await fresh.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await failed.DisposeAsync().ConfigureAwait(false);
        _log.LogInformation("silo {Identity} serves again with {Count} shards reloaded", Identity, fresh.LocalShards.Count);
        return fresh;
    }

    // Other silos may commit bucket entries for these shards that reached the previous owner (or links made there)
    // after this silo's load read the store: read them again once such requests have had time to finish.
    private async Task CatchUpAsync(IReadOnlyCollection<int> shards, long since)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1), _stopping.Token).ConfigureAwait(false);
            await Engine.CatchUpAsync(shards, since, _stopping.Token).ConfigureAwait(false);
            await Task.Delay(_options.Engine.RequestTimeout, _stopping.Token).ConfigureAwait(false);
            await Engine.CatchUpAsync(shards, since, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            _log.LogWarning("silo {Identity}: catch-up of {Count} shards failed: {Message}", Identity, shards.Count, e.Message);
        }
    }

    private void Stop(string reason)
    {
        if (_stopped.TrySetResult(reason))
        {
            var drained = reason.StartsWith("drained", StringComparison.Ordinal);
            _log.Log(drained ? LogLevel.Information : LogLevel.Warning, "silo {Identity} stops serving: {Reason}", Identity, reason);
            LshClusterMetrics.MembershipChanges.Add(1, new KeyValuePair<string, object?>("change", drained ? "left" : "stopped"));
            _stopping.Cancel();
        }
    }

    /// <summary>Whether the silo still serves (calls get UNAVAILABLE once it stopped).</summary>
    /// <remarks>
    /// Also false once the last successful renewal is so old that the lease may have lapsed: the silo must not answer
    /// (other silos' calls included) while someone else may own its shards, even before the renewal loop notices.
    /// </remarks>
    internal bool Serving => !_stopped.Task.IsCompleted && _engine is not null
        && DateTimeOffset.UtcNow - _lastRenewal < _options.LeaseDuration - _options.RenewInterval;

    private bool Draining => Volatile.Read(ref _drainStarted) == 1;

    internal string? StopReason => _stopped.Task.IsCompleted ? _stopped.Task.Result : null;

    bool IEngineHost.IsServing => Serving;

    DedupEngine IEngineHost.ServingEngine() => Serving ? Engine : throw new NotServingException(StopReason is { } reason
        ? $"{Address} no longer serves: {reason}"
        : $"{Address} is not serving now (starting, or its lease is being renewed late); retry shortly");

    async Task<IReadOnlyList<SiloStatus>> IEngineHost.ListSilosAsync(CancellationToken cancellationToken)
    {
        var silos = await _membership.ReadSilosAsync(cancellationToken).ConfigureAwait(false);
        var leases = await _membership.ReadShardOwnersAsync(cancellationToken).ConfigureAwait(false);
        var owned = leases.Where(l => l.OwnerAlive && l.Owner is not null).GroupBy(l => l.Owner!).ToDictionary(g => g.Key, g => g.Count());
        return [.. silos.Where(s => s.Listed).Select(s => new SiloStatus(
            s.Identity.Address,
            s.Identity.Generation,
            s.Shown,
            owned.GetValueOrDefault(s.Identity.ToString()),
            s.LeaseExpires,
            s.Identity == Identity))];
    }

    async Task<IReadOnlyList<ShardStatus>> IEngineHost.ListShardsAsync(CancellationToken cancellationToken)
    {
        var pins = await _membership.ReadPinsAsync(cancellationToken).ConfigureAwait(false);
        return [.. (await _membership.ReadShardOwnersAsync(cancellationToken).ConfigureAwait(false))
            .OrderBy(l => l.Shard).Select(l => new ShardStatus(l.Shard, l.OwnerAlive ? l.Owner : null, l.Epoch, pins.GetValueOrDefault(l.Shard)))];
    }

    /// <summary>
    /// Pins shards to the active silo at <paramref name="to"/> (null: unpins them); every silo's next rounds move them
    /// there as planned moves (seal, flush, release, claim, load), rate-limited like any other. Returns how many.
    /// </summary>
    /// <exception cref="ArgumentException">A shard is outside 0 … S-1, or no active silo has that address; nothing was pinned.</exception>
    public async Task<int> PinShardsAsync(IReadOnlyList<int> shards, string? to, CancellationToken cancellationToken = default)
    {
        var count = Engine.Scheme.ShardCount;
        if (shards.Count == 0)
        {
            throw new ArgumentException("shards: name at least one shard", "shards");
        }

        for (var i = 0; i < shards.Count; i++)
        {
            if (shards[i] < 0 || shards[i] >= count)
            {
                throw new ArgumentException($"shards[{i}]: {shards[i]} is not a shard of this cluster (0 … {count - 1})", $"shards[{i}]");
            }
        }

        if (to is not null && string.IsNullOrWhiteSpace(to))
        {
            throw new ArgumentException("to: give the address of an active silo, or leave it out to return the shards to automatic placement", "to");
        }

        var address = to?.Trim().TrimEnd('/');
        if (address is not null)
        {
            var active = (await _membership.ReadSilosAsync(cancellationToken).ConfigureAwait(false))
                .Where(s => s.Active).Select(s => s.Identity.Address).Distinct().Order(StringComparer.Ordinal).ToList();
            if (!active.Contains(address, StringComparer.Ordinal))
            {
                throw new ArgumentException($"to: no active silo has the address '{address}'; active silos: {string.Join(", ", active)}", "to");
            }
        }

        await _membership.PinShardsAsync([.. shards.Distinct()], address, cancellationToken).ConfigureAwait(false);
        _log.LogInformation("silo {Identity}: {Count} shards {What}", Identity, shards.Distinct().Count(), address is null ? "unpinned" : $"pinned to {address}");
        return shards.Distinct().Count();
    }

    async Task<int?> IEngineHost.PinShardsAsync(IReadOnlyList<int> shards, string? to, CancellationToken cancellationToken) =>
        await PinShardsAsync(shards, to, cancellationToken).ConfigureAwait(false);

    async Task<int?> IEngineHost.BeginDrainAsync(CancellationToken cancellationToken)
    {
        var silos = await _membership.ReadSilosAsync(cancellationToken).ConfigureAwait(false);
        if (!silos.Any(s => s.Active && s.Identity != Identity))
        {
            return null; // the last active silo: its shards would go to nobody (SIGTERM still stops it, with a drain)
        }

        var owned = _engine?.LocalShards.Count ?? 0;
        _ = Task.Run(async () =>
        {
            try
            {
                await DrainAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _log.LogError(e, "silo {Identity}: the drain failed; it keeps its lease until it stops", Identity);
            }
        });
        return owned;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Stop("disposed");
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        if (_renewing is not null)
        {
            await _renewing.ConfigureAwait(false);
        }

        if (_handOver is not null)
        {
            await _handOver.ConfigureAwait(false);
        }

        if (_web is not null)
        {
            await _web.StopAsync().ConfigureAwait(false);
            await _web.DisposeAsync().ConfigureAwait(false);
        }

        if (_engine is not null)
        {
            await _engine.DisposeAsync().ConfigureAwait(false);
        }

        _remote.Dispose();
        await _membership.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}
