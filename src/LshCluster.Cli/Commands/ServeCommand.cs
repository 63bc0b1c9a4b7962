using System.CommandLine;
using System.Runtime.InteropServices;
using LshCluster.Cli.IO;
using LshCluster.Silo.Hosting;
using LshCluster.Silo.Security;

namespace LshCluster.Cli.Commands;

/// <summary>
/// <c>lshc serve</c>: the embedded engine behind the same surfaces as a silo (REST API, dashboard, health, metrics,
/// and gRPC on a port of its own). Prints <c>serving on URL</c> and <c>serving gRPC on URL</c>; SIGTERM or Ctrl-C stops it after the requests in flight.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var store = StoreOptions.Store();
        var listen = new Option<string>("--listen") { Description = "HOST:PORT for HTTP; port 0 picks a free one", DefaultValueFactory = _ => "127.0.0.1:7002" };
        var grpc = new Option<string?>("--grpc") { Description = "HOST:PORT for the gRPC API (default: the --listen port + 1; port 0 picks a free one; \"\" turns it off)" };
        var recallSample = StoreOptions.RecallSample();
        var feedRetention = StoreOptions.FeedRetention();
        var command = new Command("serve", $"Serve one store with the embedded engine over HTTP (REST API and dashboard) and gRPC. API keys from ${Credentials.KeysVariable} or ${Credentials.KeysFileVariable}") { store, listen, grpc, recallSample, feedRetention };
        command.SetAction(async (parse, cancel) =>
        {
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            var credentials = Credentials.FromEnvironment();
            using var logs = ConsoleLogs.Create();
            await using var engine = await StoreOptions.OpenAsync(parse.GetValue(store)!, parse.GetValue(recallSample), parse.GetValue(feedRetention));
            var rest = parse.GetValue(listen)!;
            await using (var server = await EmbeddedServer.StartAsync(engine, rest, logs, credentials, cancel, GrpcListen(rest, parse.GetValue(grpc))))
            {
                Console.WriteLine($"serving on {server.Address}");
                if (server.GrpcAddress is { } grpcAddress)
                {
                    Console.WriteLine($"serving gRPC on {grpcAddress}");
                }

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

    private static string? GrpcListen(string rest, string? given) => given switch
    {
        null => EmbeddedServer.GrpcBeside(rest),
        "" => null,
        _ => given,
    };
}
