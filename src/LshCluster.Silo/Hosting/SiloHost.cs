using System.Net;
using System.Net.Sockets;
using LshCluster.Grains.Hosting;
using LshCluster.Grains.Placement;
using LshCluster.Protocol.V1;
using LshCluster.Silo.Engine;
using LshCluster.Silo.Http;
using LshCluster.Silo.Security;
using LshCluster.Storage.Postgres;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using OrleansSiloStatus = Orleans.Runtime.SiloStatus;
using SiloStatus = LshCluster.Silo.Http.SiloStatus;

namespace LshCluster.Silo.Hosting;

/// <summary>
/// One silo of a cluster on Orleans (ADR 0007): an Orleans silo hosting shard grains — membership and failure detection
/// through ADO.NET clustering on the cluster's PostgreSQL, shards placed by bounded rendezvous over the active silos and
/// moved as silos come and go — beside the web host that serves gRPC, REST, the dashboard and metrics from a
/// coordinator engine, which drives each insert over the shard grains wherever they are active and commits through
/// this silo's group committer. <see cref="DrainAsync"/> stops taking requests, lets those under way finish and leaves
/// the cluster; the silo's grains activate on the others at their next call.
/// </summary>
public sealed class SiloHost : IAsyncDisposable, IEngineHost
{
    /// <summary>The Orleans cluster and service id every silo of an LshCluster uses (one cluster per database).</summary>
    public const string ClusterId = "lshcluster";

    private readonly SiloOptions _options;
    private readonly ILoggerFactory _logs;
    private readonly ILogger _log;
    private readonly TaskCompletionSource<string> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _web;
    private IHost? _orleans;
    private volatile DedupEngine? _engine;
    private int _drainStarted; // 1 once a drain began (Interlocked: SIGTERM and a drain request may race)

    private SiloHost(SiloOptions options, ILoggerFactory logs)
    {
        _options = options;
        _logs = logs;
        _log = logs.CreateLogger("LshCluster.Silo");
    }

    /// <summary>The URL clients call (gRPC).</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>The URL of the REST API, dashboard and metrics (HTTP/1.1), or null when turned off.</summary>
    public string? HttpAddress { get; private set; }

    /// <summary>This incarnation: the Orleans silo address (endpoint and generation).</summary>
    public string Identity { get; private set; } = string.Empty;

    /// <summary>The coordinator engine.</summary>
    public DedupEngine Engine => _engine ?? throw new InvalidOperationException("the silo has not started");

    /// <summary>Completes with the reason when the silo stops serving (drained, declared dead, disposed).</summary>
    public Task<string> Stopped => _stopped.Task;

    private IServiceProvider Services => _orleans?.Services ?? throw new InvalidOperationException("the silo has not started");

    /// <summary>Starts a silo: listens, joins the cluster, and serves once its coordinator is ready.</summary>
    public static async Task<SiloHost> StartAsync(SiloOptions options, ILoggerFactory? logs = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
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
        // Listen first: the advertised address is known only then (port 0 picks one), and the silo is named by it so that
        // every silo can tell clients where another silo's shards are served.
        var siloWeb = SiloWeb.Create(_options, logs, _log);
        siloWeb.Builder.Services.AddSingleton<IEngineHost>(this).AddSingleton(this);
        var web = siloWeb.Builder.Build();
        HttpSurface.Map(web, this);
        web.MapLshClusterGrpc();
        await web.StartAsync(cancellationToken).ConfigureAwait(false);
        _web = web;
        Address = siloWeb.Address;
        HttpAddress = siloWeb.HttpAddress;

        var store = new PostgresDedupStore(_options.ConnectionString);
        try
        {
            await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
            _ = await store.ReadSchemeAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create --store postgres:…)");
            _orleans = BuildOrleans(siloWeb.GrpcEndpoint.Address);
            await _orleans.StartAsync(cancellationToken).ConfigureAwait(false);
            Identity = Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToString();

            // The Orleans silo stopping other than by a drain (which says so itself) ends the silo's service too.
            Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() =>
            {
                if (Volatile.Read(ref _drainStarted) == 0)
                {
                    Stop("the Orleans silo stopped; its shards are served by the other silos");
                }
            });
            var options = _options.Engine;
            options.Owner = Identity;
            options.Log = _logs.CreateLogger("LshCluster.Engine");
            _engine = await DedupEngine.OpenCoordinatorAsync(store, options, Services.GetRequiredService<IGrainFactory>(),
                Services.GetRequiredService<LocalShards>(), OwnersAsync, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (_engine is null)
            {
                await store.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        _log.LogInformation("silo {Identity} serves at {Address}", Identity, Address);
        Diagnostics.LshClusterMetrics.MembershipChanges.Add(1, new KeyValuePair<string, object?>("change", "joined"));
    }

    private IHost BuildOrleans(IPAddress listening)
    {
        var advertised = AdvertisedAddress(listening);
        var siloPort = _options.OrleansPort == 0 ? ListenAddress.FreePort(listening) : _options.OrleansPort;
        var connectionString = _options.ConnectionString;
        var portSecurity = SiloPortSecurity.Configure(_options);
        var describe = SiloPortSecurity.Describe(_options);
        if (portSecurity is null)
        {
            _log.LogWarning("silo port {Port}: protected by {Protection}", siloPort, describe);
        }
        else
        {
            _log.LogInformation("silo port {Port}: protected by {Protection}", siloPort, describe);
        }

        return new HostBuilder()
            .UseOrleans(silo =>
            {
                silo.UseLshClusterMembership(connectionString);
                silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (ClusterId, ClusterId));

                // Named by its gRPC URL: the shard map a client routes by names silos by it.
                silo.Configure<Orleans.Configuration.SiloOptions>(o => o.SiloName = Address);
                silo.ConfigureEndpoints(advertised, siloPort, gatewayPort: 0, listenOnAnyHostAddress: listening.Equals(IPAddress.Any));
                silo.AddLshClusterShards(_ => new PostgresDedupStore(connectionString));
                if (portSecurity is not null)
                {
                    silo.UseTls(portSecurity);
                }

                // Declared dead (paused or cut off past the membership timeout), Orleans' own handler ends the process
                // at once (FailFast); this one stops serving and lets the process exit with the silo's status.
                silo.Services.AddSingleton<IFatalErrorHandler>(new StopOnFatalError(this));
            })
            // Signals are the silo's: SIGTERM drains first (the default console lifetime would stop Orleans at once).
            .ConfigureServices(services => services.AddSingleton<IHostLifetime, ManualLifetime>())
            .ConfigureLogging(logging =>
            {
                // Orleans reports every probe, placement retry and activation at Information: the operator sees its warnings.
                logging.ClearProviders();
                logging.AddProvider(new ForwardingLoggerProvider(_logs));
                logging.AddFilter("Orleans", LogLevel.Warning);
                logging.AddFilter("Microsoft", LogLevel.Warning);
                logging.AddFilter("Polly", LogLevel.Error); // a retry per placement call while a dead silo is being noticed
            })
            .Build();
    }

    /// <summary>The IP other silos reach this one at: the listening address, or when listening on every address, the advertised host's or this machine's.</summary>
    private IPAddress AdvertisedAddress(IPAddress listening)
    {
        if (!listening.Equals(IPAddress.Any))
        {
            return listening;
        }

        var host = _options.Advertise is { } advertise ? new Uri(advertise).Host : Dns.GetHostName();
        return IPAddress.TryParse(host, out var given)
            ? given
            : Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)) ?? IPAddress.Loopback;
    }

    /// <summary>Stops taking requests, lets those under way finish, and leaves the cluster (its grains activate elsewhere).</summary>
    public async Task DrainAsync()
    {
        if (_engine is not { } engine || Interlocked.CompareExchange(ref _drainStarted, 1, 0) != 0)
        {
            return;
        }

        _log.LogInformation("silo {Identity} draining", Identity);
        var until = DateTimeOffset.UtcNow + _options.DrainTimeout;
        while (engine.BatchesInFlight > 0 && DateTimeOffset.UtcNow < until)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        if (_orleans is { } orleans)
        {
            using var patience = new CancellationTokenSource(_options.DrainTimeout);
            await orleans.StopAsync(patience.Token).ConfigureAwait(false);
        }

        Stop("drained: the silo left the cluster and its shards are served by the other silos");
    }

    private void Stop(string reason)
    {
        if (_stopped.TrySetResult(reason))
        {
            var drained = reason.StartsWith("drained", StringComparison.Ordinal);
            _log.Log(drained ? LogLevel.Information : LogLevel.Warning, "silo {Identity} stops serving: {Reason}", Identity, reason);
            Diagnostics.LshClusterMetrics.MembershipChanges.Add(1, new KeyValuePair<string, object?>("change", drained ? "left" : "stopped"));
        }
    }

    private bool Serving => !_stopped.Task.IsCompleted && Volatile.Read(ref _drainStarted) == 0 && _engine is not null;

    bool IEngineHost.IsServing => Serving;

    DedupEngine IEngineHost.ServingEngine() => Serving ? Engine : throw new NotServingException(_stopped.Task.IsCompleted
        ? $"{Address} no longer serves: {_stopped.Task.Result}"
        : Volatile.Read(ref _drainStarted) == 1 ? $"{Address} is draining; send requests to another silo" : $"{Address} is starting; retry shortly");

    /// <summary>The silos Orleans' membership knows, with the shard grains active on each.</summary>
    private async Task<List<(Orleans.Runtime.ClusterMember Member, int Shards)>> MembersAsync()
    {
        var members = Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values.ToList();
        var active = await ActiveShardsAsync().ConfigureAwait(false);
        return [.. members.Select(m => (m, active.Count(a => a.Value.Equals(m.SiloAddress))))];
    }

    /// <summary>
    /// Where each shard grain is active now, as the active silos report their activations; a shard not active anywhere
    /// (never called since the cluster started), caught mid-move (two activations) or on a silo that does not answer
    /// (dead, not yet declared so) is left out.
    /// </summary>
    private async Task<Dictionary<int, Orleans.Runtime.SiloAddress>> ActiveShardsAsync()
    {
        var management = Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var silos = Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values
            .Where(m => m.Status == OrleansSiloStatus.Active).Select(m => m.SiloAddress).ToList();
        var reports = await Task.WhenAll(silos.Select(async silo =>
        {
            try
            {
                return await management.GetDetailedGrainStatistics(null, [silo]).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException)
            {
                return [];
            }
        })).ConfigureAwait(false);
        return reports.SelectMany(r => r)
            .Where(s => s.GrainId.Type.ToString() == "shard")
            .GroupBy(s => checked((int)s.GrainId.GetIntegerKey()))
            .Where(g => g.Count() == 1)
            .ToDictionary(g => g.Key, g => g.Single().SiloAddress);
    }

    /// <summary>Where placement puts each shard among the active silos.</summary>
    private async Task<Orleans.Runtime.SiloAddress[]> OwnersAsync()
    {
        var active = Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values
            .Where(m => m.Status == OrleansSiloStatus.Active).Select(m => m.SiloAddress).ToList();
        return active.Count == 0 ? [] : await Services.GetRequiredService<ShardPlacementTable>().OwnersAsync(active).ConfigureAwait(false);
    }

    private static string StatusName(OrleansSiloStatus status) => status switch
    {
        OrleansSiloStatus.Active => "active",
        OrleansSiloStatus.ShuttingDown or OrleansSiloStatus.Stopping => "draining",
        OrleansSiloStatus.Dead => "dead",
        _ => "joining",
    };

    async Task<IReadOnlyList<SiloStatus>> IEngineHost.ListSilosAsync(CancellationToken cancellationToken)
    {
        var self = Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        return [.. (await MembersAsync().ConfigureAwait(false)).Select(m =>
            new SiloStatus(m.Member.Name, m.Member.SiloAddress.Generation, StatusName(m.Member.Status), m.Shards, m.Member.SiloAddress.Equals(self)))];
    }

    async Task<IReadOnlyList<ShardStatus>> IEngineHost.ListShardsAsync(CancellationToken cancellationToken)
    {
        var names = Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values.ToDictionary(m => m.SiloAddress, m => m.Name);
        var active = await ActiveShardsAsync().ConfigureAwait(false);
        return [.. Enumerable.Range(0, Engine.Scheme.ShardCount).Select(shard =>
            new ShardStatus(shard, active.TryGetValue(shard, out var silo) ? names.GetValueOrDefault(silo) : null, 0))];
    }

    Task<int?> IEngineHost.BeginDrainAsync(CancellationToken cancellationToken)
    {
        var others = Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values
            .Count(m => m.Status == OrleansSiloStatus.Active && !m.SiloAddress.Equals(Services.GetRequiredService<ILocalSiloDetails>().SiloAddress));
        if (others == 0)
        {
            return Task.FromResult<int?>(null); // the last active silo: its shards would go to nobody
        }

        var owned = Engine.LocalShards.Count;
        _ = Task.Run(async () =>
        {
            try
            {
                await DrainAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _log.LogError(e, "silo {Identity}: the drain failed", Identity);
            }
        });
        return Task.FromResult<int?>(owned);
    }

    /// <summary>Admin.GetShardMap: where placement puts each shard now, by silo name, with the membership version.</summary>
    internal async Task<ShardMap> GetShardMapAsync()
    {
        var membership = Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot;
        var names = membership.Members.Values.ToDictionary(m => m.SiloAddress, m => m.Name);
        var map = new ShardMap { Version = membership.Version.Value };
        map.Owners.AddRange((await OwnersAsync().ConfigureAwait(false)).Select(o => names.GetValueOrDefault(o) ?? string.Empty));
        return map;
    }

    /// <summary>Admin.Drain: hands this silo's shards over and stops; returns how many it held.</summary>
    internal async Task<int> DrainAndCountAsync()
    {
        var before = Engine.LocalShards.Count;
        await DrainAsync().ConfigureAwait(false);
        return before;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Stop("disposed");
        if (_web is not null)
        {
            await _web.StopAsync().ConfigureAwait(false);
            await _web.DisposeAsync().ConfigureAwait(false);
        }

        if (_engine is not null)
        {
            await _engine.DisposeAsync().ConfigureAwait(false);
        }

        if (_orleans is not null)
        {
            try
            {
                using var patience = new CancellationTokenSource(_options.DrainTimeout);
                await _orleans.StopAsync(patience.Token).ConfigureAwait(false);
            }
            finally
            {
                _orleans.Dispose();
            }
        }
    }

    /// <summary>Stops the silo, with Orleans' reason, when Orleans meets an error it cannot go on from.</summary>
    private sealed class StopOnFatalError(SiloHost host) : IFatalErrorHandler
    {
        public bool IsUnexpected(Exception exception) => true;

        public void OnFatalException(object? sender = null, string? context = null, Exception? exception = null) =>
            host.Stop($"Orleans stopped the silo: {context ?? exception?.Message ?? "a fatal error"} (its shards are served by the other silos under newer epochs)");
    }

    /// <summary>Hands Orleans' loggers out of the process's logger factory (whose providers and filters stay the caller's).</summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => logs.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }
}
