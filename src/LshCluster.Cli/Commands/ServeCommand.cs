using System.CommandLine;
using System.Runtime.InteropServices;
using LshCluster.Cli.IO;
using LshCluster.Silo.Hosting;
using LshCluster.Silo.Security;

namespace LshCluster.Cli.Commands;

/// <summary>
/// <c>lshc serve</c>: the embedded engine behind the same HTTP surface as a silo (REST API, dashboard, health,
/// metrics). Prints <c>serving on URL</c>; SIGTERM or Ctrl-C stops it after the requests in flight.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var store = StoreOptions.Store();
        var listen = new Option<string>("--listen") { Description = "HOST:PORT for HTTP; port 0 picks a free one", DefaultValueFactory = _ => "127.0.0.1:7002" };
        var recallSample = StoreOptions.RecallSample();
        var feedRetention = StoreOptions.FeedRetention();
        var command = new Command("serve", $"Serve one store with the embedded engine over HTTP (REST API and dashboard). API keys from ${Credentials.KeysVariable} or ${Credentials.KeysFileVariable}") { store, listen, recallSample, feedRetention };
        command.SetAction(async (parse, cancel) =>
        {
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            var credentials = Credentials.FromEnvironment();
            using var logs = ConsoleLogs.Create();
            await using var engine = await StoreOptions.OpenAsync(parse.GetValue(store)!, parse.GetValue(recallSample), parse.GetValue(feedRetention));
            await using (var server = await EmbeddedServer.StartAsync(engine, parse.GetValue(listen)!, logs, credentials, cancel))
            {
                Console.WriteLine($"serving on {server.Address}");
                await stop.Task.WaitAsync(cancel);
            }

            Console.WriteLine("stopped");
            return 0;

            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.TrySetResult();
            }
        });
        return command;
    }
}
