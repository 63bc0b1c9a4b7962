using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace LshCluster.Benchmarks;

/// <summary>
/// Reads an EventPipe trace with allocation ticks (dotnet-trace, <c>Microsoft-Windows-DotNETRuntime:0x1:5</c>) and
/// prints the bytes allocated by type and by call site: where a process's garbage comes from. Each tick stands for
/// ~100 KB allocated, so small figures are rough.
/// </summary>
internal static class AllocationSites
{
    /// <summary>Frames that say nothing about the caller: list growth, pools, async plumbing.</summary>
    private static readonly string[] Plumbing =
        ["System.Collections.Generic.List", "System.GC", "System.Runtime.CompilerServices.AsyncMethodBuilderCore", "AsyncTaskMethodBuilder"];

    public static void Print(string tracePath, int depth, int top, TextWriter output)
    {
        using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(tracePath));
        var bySite = new Dictionary<string, long>();
        var byType = new Dictionary<string, long>();
        long total = 0;
        foreach (var e in log.Events)
        {
            if (e is not GCAllocationTickTraceData tick)
            {
                continue;
            }

            total += tick.AllocationAmount64;
            var frames = new List<string>();
            for (var frame = e.CallStack(); frame is not null && frames.Count < depth; frame = frame.Caller)
            {
                var name = frame.CodeAddress.FullMethodName;
                if (string.IsNullOrEmpty(name) || Plumbing.Any(name.StartsWith))
                {
                    continue;
                }

                frames.Add(name.IndexOf('(') is var paren and > 0 ? name[..paren] : name);
            }

            var site = $"{tick.TypeName} [{tick.AllocationKind}] <- {string.Join(" < ", frames)}";
            bySite[site] = bySite.GetValueOrDefault(site) + tick.AllocationAmount64;
            byType[tick.TypeName] = byType.GetValueOrDefault(tick.TypeName) + tick.AllocationAmount64;
        }

        output.WriteLine($"allocated {total >> 20:N0} MiB in {tracePath}");
        output.WriteLine("by type:");
        foreach (var (type, bytes) in byType.OrderByDescending(x => x.Value).Take(top))
        {
            output.WriteLine($"{bytes >> 20,8:N0} MiB  {type}");
        }

        output.WriteLine("by call site:");
        foreach (var (site, bytes) in bySite.OrderByDescending(x => x.Value).Take(top))
        {
            output.WriteLine($"{bytes >> 20,8:N0} MiB  {site}");
        }
    }
}
