using System.CommandLine;
using Grpc.Core;
using LshCluster.Cli.Commands;

// lshc: the thin entry point; every command lives in Commands/.
var root = new RootCommand("lshc — LshCluster: near-duplicate detection for embedding vectors")
{
    DemoCommand.Create(),
    CreateCommand.Create(),
    IngestCommand.Create(),
    QueryCommands.Query(),
    QueryCommands.Clusters(),
    QueryCommands.Stats(),
    QueryCommands.Export(),
    QueryCommands.Watch(),
    AdminCommands.Delete(),
    BenchCommand.Create(),
    PlanCommand.Create(),
    CodesCommand.Create(),
    SiloCommand.Create(),
    ServeCommand.Create(),
    KeygenCommand.Create(),
};

try
{
    // Bad input is reported as one line naming the field, not as a stack trace.
    // No process-termination handler: System.CommandLine's would end the process 2 s after SIGTERM, cutting a silo's
    // drain short (lshc silo handles SIGTERM itself; the other commands are safe to stop at any moment).
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
}
catch (Exception e) when (e is ArgumentException or FormatException or IOException or InvalidOperationException)
{
    var message = e is ArgumentException a ? LshCluster.Silo.Http.FailureMessages.Of(a) : e.Message;
    Console.Error.WriteLine($"lshc: {message}");
    return 2;
}
catch (LshCluster.Silo.Engine.OverloadedException e)
{
    // Busy, not broken: nothing of the refused request was stored, and sending it again later is safe.
    Console.Error.WriteLine($"lshc: {e.Message}");
    return 5;
}
catch (RpcException e)
{
    // A call to a cluster (--server) failed: one line with the silo's reason, and an exit code by what to do next.
    Console.Error.WriteLine($"lshc: the cluster answered {e.StatusCode}: {e.Status.Detail}");
    return e.StatusCode switch
    {
        StatusCode.Unavailable or StatusCode.ResourceExhausted or StatusCode.DeadlineExceeded => 5, // retry later
        StatusCode.InvalidArgument or StatusCode.NotFound or StatusCode.Unauthenticated or StatusCode.PermissionDenied => 2, // fix the call
        _ => 4,
    };
}
catch (Exception e) when (e is System.Data.Common.DbException or LshCluster.Silo.Engine.EngineStoppedException)
{
    // The store itself failed (unreachable, refused, full): say so in one line; nothing unacknowledged is implied.
    Console.Error.WriteLine($"lshc: the store failed: {e.Message}");
    return 4;
}
