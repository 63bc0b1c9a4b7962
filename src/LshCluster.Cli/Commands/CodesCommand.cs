using System.CommandLine;
using System.Text;
using LshCluster.Cli.IO;
using LshCluster.Core.Hashing;
using LshCluster.Core.Vectors;

namespace LshCluster.Cli.Commands;

/// <summary><c>lshc codes</c>: prints the LSH codes, bucket keys and sketch of each vector as JSON lines.</summary>
internal static class CodesCommand
{
    public static Command Create()
    {
        var scheme = new Option<FileInfo>("--scheme") { Description = "Scheme file written by 'lshc plan --out'", Required = true };
        var format = new Option<string?>("--format") { Description = "fvecs, npy or jsonl (default: from the extension; '-' reads jsonl)" };
        var input = new Argument<string>("FILE") { Description = "Vectors to hash, or - for standard input" };
        var command = new Command("codes", "Print the LSH codes (all tables' bucket ids) of vectors, for use as features") { scheme, format, input };
        command.SetAction(parse =>
        {
            var lsh = LshScheme.FromBytes(File.ReadAllBytes(parse.GetValue(scheme)!.FullName));
            var hasher = new LshHasher(lsh);
            var keys = new ulong[lsh.Tables];
            var codes = new int[hasher.CodeCount];
            var output = new StringBuilder();
            var failures = 0;
            foreach (var record in VectorFileReader.Read(parse.GetValue(input)!, parse.GetValue(format)))
            {
                output.Clear();
                if (VectorValidator.Validate(record.Values, lsh.Dimension) is { } error)
                {
                    Console.Error.WriteLine($"id {record.Id}: {error.Message}");
                    failures++;
                    continue;
                }

                hasher.Hash(record.Values, keys, codes, default);
                output.Append("{\"id\":").Append(System.Text.Json.JsonSerializer.Serialize(record.Id));
                output.Append(",\"keys\":[").AppendJoin(',', keys.Select(k => $"\"{k:x16}\"")).Append(']');
                output.Append(",\"codes\":[").AppendJoin(',', codes).Append(']');
                output.Append(",\"sketch\":\"").Append(hasher.ComputeSketch(record.Values)).Append("\"}");
                Console.Out.WriteLine(output);
            }

            return failures == 0 ? 0 : 2;
        });
        return command;
    }
}
