using System.CommandLine;
using System.Runtime.InteropServices;
using LshCluster.Cli.IO;
using LshCluster.Silo.Hosting;
using LshCluster.Silo.Security;

namespace LshCluster.Cli.Commands;

/// <summary>
/// <c>lshc silo</c>: one silo of a cluster on Orleans (ADR 0006). Prints <c>silo listening on URL</c> once it serves; on
/// SIGTERM or SIGINT it drains (finishes the requests under way and leaves; its shard grains activate on the other
/// silos) and exits 0. Exits 4 when it had to stop serving (declared dead by the others): a supervisor restarts it as a
/// new incarnation.
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
        var tlsCert = new Option<FileInfo?>("--tls-cert") { Description = "PEM certificate: serve gRPC over TLS instead of h2c (with --tls-key)" };
        var tlsKey = new Option<FileInfo?>("--tls-key") { Description = "PEM private key of --tls-cert" };
        var siloPort = new Option<int>("--silo-port") { Description = "Port the silos talk to each other on (Orleans; on the --listen host): keep it inside the cluster's network; 0 picks a free one", DefaultValueFactory = _ => 11111 };
        var recallSample = StoreOptions.RecallSample();
        var feedRetention = StoreOptions.FeedRetention();
        var tlsCa = new Option<FileInfo?>("--tls-ca") { Description = "PEM certificate the other silos' certificates must chain to (default: the system's trust store)" };
        var command = new Command("silo", $"Run a silo: join the cluster (Orleans, membership in PostgreSQL), host a share of the shard grains, serve gRPC, REST and the dashboard. API keys from ${Credentials.KeysVariable} or ${Credentials.KeysFileVariable}, the silos' shared secret from ${Credentials.ClusterSecretVariable} or ${Credentials.ClusterSecretFileVariable}")
        {
            store, listen, http, advertise, siloPort, tlsCert, tlsKey, tlsCa, recallSample, feedRetention,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var storeText = parse.GetValue(store)!;
            if (!storeText.StartsWith("postgres:", StringComparison.Ordinal))
            {
                throw new ArgumentException("--store: a silo needs postgres:CONNECTION-STRING (the cluster's shared state); sqlite: is for the embedded engine", "store");
            }

            var options = new SiloOptions
            {
                ConnectionString = storeText["postgres:".Length..],
                Listen = parse.GetValue(listen)!,
                HttpListen = parse.GetValue(http),
                Advertise = parse.GetValue(advertise),
                TlsCertificatePath = parse.GetValue(tlsCert)?.FullName,
                TlsKeyPath = parse.GetValue(tlsKey)?.FullName,
                TlsTrustPath = parse.GetValue(tlsCa)?.FullName,
                OrleansPort = parse.GetValue(siloPort),
                Credentials = Credentials.FromEnvironment(),
            };
            options.Engine.RecallSampleRate = parse.GetValue(recallSample);
            options.Engine.FeedRetention = parse.GetValue(feedRetention);
            using var logs = ConsoleLogs.Create();
            // SIGTERM (systemd, Kubernetes, docker stop) and Ctrl-C drain first; the process exits once drained. The
            // handlers are in place before the silo announces itself, so that no signal can end it unannounced.
            var drainRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Drain);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Drain);
            await using var silo = await SiloHost.StartAsync(options, logs, cancel);
            _ = drainRequested.Task.ContinueWith(_ => silo.DrainAsync(), TaskScheduler.Default);
            Console.WriteLine($"silo listening on {silo.Address} as {silo.Identity}");
            if (silo.HttpAddress is { } web)
            {
                Console.WriteLine($"silo http on {web} (REST API, dashboard, /metrics)");
            }

            var reason = await silo.Stopped;
            Console.WriteLine($"silo {silo.Identity} stopped: {reason}");
            return reason.StartsWith("drained", StringComparison.Ordinal) ? 0 : 4;

            void Drain(PosixSignalContext context)
            {
                context.Cancel = true;
                drainRequested.TrySetResult();
            }
        });
        return command;
    }
}
