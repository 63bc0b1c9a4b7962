using System.CommandLine;
using System.Diagnostics;
using LshCluster.Cli.IO;
using LshCluster.Silo.Engine;

namespace LshCluster.Cli.Commands;

/// <summary><c>lshc ingest</c>: streams a vector file into the cluster in batches and prints each refused item.</summary>
internal static class IngestCommand
{
    public static Command Create()
    {
        var store = Target.Store();
        var server = Target.Server();
        var file = new Argument<string>("FILE") { Description = ".fvecs, .npy, .jsonl or an idx3 image file (Fashion-MNIST); - reads JSON lines from standard input" };
        var ids = new Option<FileInfo?>("--ids") { Description = "One external id per line (default: 0-based row numbers)" };
        var format = new Option<string?>("--format") { Description = "fvecs, npy, jsonl or idx (default: from the file name)" };
        format.AcceptOnlyFromAmong("fvecs", "npy", "jsonl", "idx");
        var batch = new Option<int>("--batch") { Description = "Vectors per request", DefaultValueFactory = _ => 5000 };
        var inFlight = new Option<int>("--in-flight") { Description = "Batches sent and not yet answered (the next one is hashed meanwhile)", DefaultValueFactory = _ => DefaultInFlight };
        var verdicts = new Option<bool>("--verdicts") { Description = "Print each verdict as a JSON line once it is durable" };
        var command = new Command("ingest", "Insert vectors and report duplicates") { store, server, file, ids, format, batch, inFlight, verdicts };
        command.SetAction(async (parse, cancel) =>
        {
            await using var target = await Target.OpenAsync(parse.GetValue(store), parse.GetValue(server));
            var records = VectorFileReader.Read(parse.GetValue(file)!, parse.GetValue(format), tolerateMalformed: true);
            if (parse.GetValue(ids) is { } idFile)
            {
                records = WithIds(records, File.ReadLines(idFile.FullName));
            }

            var printVerdicts = parse.GetValue(verdicts);
            var depth = parse.GetValue(inFlight);
            var (total, duplicates, refused, elapsed) = printVerdicts
                ? await RunAsync(target.InsertAsync, target.MaxBatchSize, records, parse.GetValue(batch), cancel, printVerdicts: true, inFlight: depth)
                : await Progress.RunAsync("ingesting", null, advanced => RunAsync(target.InsertAsync, target.MaxBatchSize, records, parse.GetValue(batch), cancel, advanced: advanced, inFlight: depth));
            Console.WriteLine($"ingested {total - refused:N0} vectors in {elapsed.TotalSeconds:F1} s ({(total - refused) / Math.Max(elapsed.TotalSeconds, 1e-9):N0}/s): {duplicates:N0} duplicates, {refused:N0} refused");
            return refused == 0 ? 0 : 3;
        });
        return command;
    }

    public static Task<(int Total, int Duplicates, int Refused, TimeSpan Elapsed)> RunAsync(
        DedupEngine engine, IEnumerable<VectorRecord> records, int batchSize, CancellationToken cancel, bool printVerdicts = false, Action<long>? advanced = null) =>
        RunAsync(engine.InsertAsync, engine.MaxBatchSize, records, batchSize, cancel, printVerdicts, advanced);

    /// <summary>Batches in flight by default.</summary>
    public const int DefaultInFlight = 2;

    public static async Task<(int Total, int Duplicates, int Refused, TimeSpan Elapsed)> RunAsync(
        Func<IReadOnlyList<VectorInput>, CancellationToken, Task<IReadOnlyList<InsertResult>>> insert, int maxBatchSize,
        IEnumerable<VectorRecord> records, int batchSize, CancellationToken cancel, bool printVerdicts = false, Action<long>? advanced = null, int inFlight = DefaultInFlight)
    {
        if (batchSize < 1 || batchSize > maxBatchSize)
        {
            throw new ArgumentException($"--batch must be 1 … {maxBatchSize}: a batch holds at most {maxBatchSize} vectors; got {batchSize}", "batch");
        }

        if (inFlight is < 1 or > 16)
        {
            throw new ArgumentException($"--in-flight must be 1 … 16; got {inFlight}", "in-flight");
        }

        var clock = Stopwatch.StartNew();
        int total = 0, duplicates = 0, refused = 0;

        // Batches in flight: while they wait for their shards and their commits, the next one is being hashed.
        var pendingBatches = new Queue<(VectorRecord[] Chunk, int Offset, Task<IReadOnlyList<InsertResult>> Results)>();
        async Task ReportOldestAsync()
        {
            var (chunk, offset, pending) = pendingBatches.Dequeue();
            foreach (var r in await pending)
            {
                if (r.Error is { } e)
                {
                    refused++;
                    Console.Error.WriteLine($"lshc: item {offset + r.Index} (id '{chunk[r.Index].Id}') refused: {e.Message.Replace($"items[{r.Index}].", string.Empty, StringComparison.Ordinal)}");
                }
                else if (r.Verdict!.Kind == VerdictKind.Duplicate)
                {
                    duplicates++;
                }

                if (printVerdicts && r.Verdict is { } verdict)
                {
                    Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(verdict, Json.Options));
                }
            }

            if (printVerdicts)
            {
                // A verdict line is a promise that the vector is durable: let it reach the reader now.
                Console.Out.Flush();
            }

            advanced?.Invoke(chunk.Length);
        }

        var malformed = 0;
        var wellFormed = records.Where(r =>
        {
            if (r.Malformed is null)
            {
                return true;
            }

            malformed++;
            Console.Error.WriteLine($"lshc: {r.Id} refused: {r.Malformed}");
            return false;
        });
        foreach (var chunk in wellFormed.Chunk(batchSize))
        {
            pendingBatches.Enqueue((chunk, total, insert([.. chunk.Select(r => new VectorInput(r.Id, r.Values))], cancel)));
            total += chunk.Length;
            if (pendingBatches.Count == inFlight)
            {
                await ReportOldestAsync();
            }
        }

        while (pendingBatches.Count > 0)
        {
            await ReportOldestAsync();
        }

        // Items are numbered among the well-formed ones; malformed lines count as input refused.
        return (total + malformed, duplicates, refused + malformed, clock.Elapsed);
    }

    private static IEnumerable<VectorRecord> WithIds(IEnumerable<VectorRecord> records, IEnumerable<string> ids)
    {
        using var idEnumerator = ids.GetEnumerator();
        var row = 0;
        foreach (var record in records)
        {
            if (!idEnumerator.MoveNext())
            {
                throw new ArgumentException($"--ids: the file has {row} ids but the vectors go on; give one id per vector", "ids");
            }

            yield return record with { Id = idEnumerator.Current };
            row++;
        }
    }
}
