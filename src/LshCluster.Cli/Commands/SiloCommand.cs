using System.CommandLine;
using System.Runtime.InteropServices;
using LshCluster.Cli.IO;
using LshCluster.Silo.Hosting;
using LshCluster.Silo.Security;

namespace LshCluster.Cli.Commands;

/// <summary>
/// <c>lshc silo</c>: one server process of a cluster. Prints <c>silo listening on URL</c> once it serves; on SIGTERM
/// or SIGINT it drains (hands its shards to the other silos) and exits 0. Exits 4 when it had to stop serving
/// (lease lost, store refused a write): a supervisor restarts it as a new incarnation.
/// </summary>
internal static class SiloCommand
{
    public static Command Create()
    {
        var store = StoreOptions.Store();
        store.Description = "postgres:CONNECTION-STRING shared by every silo of the cluster";
        var listen = new Option<string>("--listen") { Description = "HOST:PORT for gRPC (h2c); port 0 picks a free one", DefaultValueFactory = _ => "127.0.0.1:7001" };
        var http = new Option<string?>("--http") { Description = "HOST:PORT for the REST API, dashboard and metrics (HTTP/1.1); default: the --listen host and the next port; \"\" turns it off" };
        var advertise = new Option<string?>("--advertise") { Description = "URL other silos and clients call (default: http://HOST:PORT listened on)" };
        var lease = new Option<double>("--lease") { Description = "Lease in seconds: a silo that stops renewing is dead this long after (renewed every quarter of it)", DefaultValueFactory = _ => 8 };
        var tlsCert = new Option<FileInfo?>("--tls-cert") { Description = "PEM certificate: serve gRPC over TLS instead of h2c (with --tls-key)" };
        var tlsKey = new Option<FileInfo?>("--tls-key") { Description = "PEM private key of --tls-cert" };
        var siloPort = new Option<int>("--silo-port") { Description = "Port the silos of an Orleans cluster talk to each other on (on the --listen host); 0 picks a free one", DefaultValueFactory = _ => 11111 };
        var runtime = new Option<string>("--runtime") { Description = "orleans: shard grains on Microsoft Orleans; mailboxes: the earlier runtime (until every deployment has moved)", DefaultValueFactory = _ => "mailboxes" };
        runtime.AcceptOnlyFromAmong("orleans", "mailboxes");
        var tlsCa = new Option<FileInfo?>("--tls-ca") { Description = "PEM certificate the other silos' certificates must chain to (default: the system's trust store)" };
        var command = new Command("silo", $"Run a silo: join the cluster in PostgreSQL, own a share of the shards, serve gRPC. API keys from ${Credentials.KeysVariable} or ${Credentials.KeysFileVariable}, the silos' shared secret from ${Credentials.ClusterSecretVariable} or ${Credentials.ClusterSecretFileVariable}")
        {
            store, listen, http, advertise, lease, siloPort, runtime, tlsCert, tlsKey, tlsCa,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var storeText = parse.GetValue(store)!;
            if (!storeText.StartsWith("postgres:", StringComparison.Ordinal))
            {
                throw new ArgumentException("--store: a silo needs postgres:CONNECTION-STRING (the cluster's shared state); sqlite: is for the embedded engine", "store");
            }

            var leaseSeconds = parse.GetValue(lease);
            if (leaseSeconds is < 1 or > 600)
            {
                throw new ArgumentException("--lease: must be 1 … 600 seconds", "lease");
            }

            var options = new SiloOptions
            {
                ConnectionString = storeText["postgres:".Length..],
                Listen = parse.GetValue(listen)!,
                HttpListen = parse.GetValue(http),
                Advertise = parse.GetValue(advertise),
                LeaseDuration = TimeSpan.FromSeconds(leaseSeconds),
                RenewInterval = TimeSpan.FromSeconds(leaseSeconds / 4),
                TlsCertificatePath = parse.GetValue(tlsCert)?.FullName,
                TlsKeyPath = parse.GetValue(tlsKey)?.FullName,
                TlsTrustPath = parse.GetValue(tlsCa)?.FullName,
                OrleansPort = parse.GetValue(siloPort),
                Credentials = Credentials.FromEnvironment(),
            };
            using var logs = ConsoleLogs.Create();
            // SIGTERM (systemd, Kubernetes, docker stop) and Ctrl-C drain first; the process exits once drained. The
            // handlers are in place before the silo announces itself, so that no signal can end it unannounced.
            var drainRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Drain);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Drain);
            string reason, identity;
            if (parse.GetValue(runtime) == "orleans")
            {
                await using var silo = await OrleansSiloHost.StartAsync(options, logs, cancel);
                _ = drainRequested.Task.ContinueWith(_ => silo.DrainAsync(), TaskScheduler.Default);
                Announce(silo.Address, silo.Identity, silo.HttpAddress);
                (reason, identity) = (await silo.Stopped, silo.Identity);
            }
            else
            {
                await using var silo = await SiloHost.StartAsync(options, logs, cancel);
                _ = drainRequested.Task.ContinueWith(_ => silo.DrainAsync(), TaskScheduler.Default);
                Announce(silo.Address, silo.Identity.ToString(), silo.HttpAddress);
                (reason, identity) = (await silo.Stopped, silo.Identity.ToString());
            }

            Console.WriteLine($"silo {identity} stopped: {reason}");
            return reason.StartsWith("drained", StringComparison.Ordinal) ? 0 : 4;

            static void Announce(string address, string identity, string? http)
            {
                Console.WriteLine($"silo listening on {address} as {identity}");
                if (http is { } web)
                {
                    Console.WriteLine($"silo http on {web} (REST API, dashboard, /metrics)");
                }
            }

            void Drain(PosixSignalContext context)
            {
                context.Cancel = true;
                drainRequested.TrySetResult();
            }
        });
        return command;
    }
}
