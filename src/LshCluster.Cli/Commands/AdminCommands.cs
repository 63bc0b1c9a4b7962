using System.CommandLine;

namespace LshCluster.Cli.Commands;

/// <summary><c>lshc delete</c>: what an admin changes (with --server, an admin key).</summary>
internal static class AdminCommands
{
    public static Command Delete()
    {
        var store = Target.Store();
        var server = Target.Server();
        var ids = new Argument<string[]>("ids") { Description = "External ids of the vectors to delete", Arity = ArgumentArity.OneOrMore };
        var command = new Command("delete", "Delete vectors (with --server: an admin key): no longer matched, listed or counted; their values and ids leave the store") { store, server, ids };
        command.SetAction(async (parse, cancel) =>
        {
            await using var engine = await Target.OpenAsync(parse.GetValue(store), parse.GetValue(server));
            var failed = 0;
            foreach (var r in await engine.DeleteAsync(parse.GetValue(ids)!))
            {
                Console.WriteLine(r switch
                {
                    { Deleted: true } => $"deleted     {r.ExternalId}",
                    { Error: { } e } => $"not deleted {r.ExternalId}: {e.Message}",
                    _ => $"not stored  {r.ExternalId}",
                });
                failed += r.Error is null ? 0 : 1;
            }

            return failed == 0 ? 0 : 5; // 5: some could not be deleted now; sending them again is safe
        });
        return command;
    }
}
