using System.CommandLine;
using LshCluster.Cli.Commands;
using LshCluster.Protocol.Wire;

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
    var message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : e.Message;
    Console.Error.WriteLine($"lshc: {message}");
    return 2;
}
catch (LshCluster.Silo.Engine.OverloadedException e)
{
    // Busy, not broken: nothing of the refused request was stored, and sending it again later is safe.
    Console.Error.WriteLine($"lshc: {e.Message}");
    return 5;
}
catch (LshCluster.Protocol.Wire.RpcException e)
{
    // A call to a cluster (--server) failed: one line with the silo's reason, and an exit code by what to do next.
    Console.Error.WriteLine($"lshc: the cluster answered {e.Status}: {e.Detail}");
    return e.Status switch
    {
        GrpcStatusCode.Unavailable or GrpcStatusCode.ResourceExhausted or GrpcStatusCode.DeadlineExceeded => 5, // retry later
        GrpcStatusCode.InvalidArgument or GrpcStatusCode.NotFound or GrpcStatusCode.Unauthenticated or GrpcStatusCode.PermissionDenied => 2, // fix the call
        _ => 4,
    };
}
catch (Exception e) when (e is System.Data.Common.DbException or LshCluster.Silo.Engine.EngineStoppedException)
{
    // The store itself failed (unreachable, refused, full): say so in one line; nothing unacknowledged is implied.
    Console.Error.WriteLine($"lshc: the store failed: {e.Message}");
    return 4;
}
