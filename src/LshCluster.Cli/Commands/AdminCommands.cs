using System.CommandLine;

namespace LshCluster.Cli.Commands;

/// <summary><c>lshc delete</c> and <c>lshc move-shards</c>: what an admin changes (with --server, an admin key).</summary>
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

    public static Command MoveShards()
    {
        var server = Target.Server();
        var to = new Option<string?>("--to") { Description = "Address of the active silo to move them to (as /v1/silos shows it); without it, back to automatic placement" };
        var shards = new Argument<int[]>("shards") { Description = "Shard numbers, 0 … S-1", Arity = ArgumentArity.OneOrMore };
        var command = new Command("move-shards", "Move shards to a silo of a running cluster (an admin key), or back to automatic placement") { server, to, shards };
        command.SetAction(async (parse, cancel) =>
        {
            var url = parse.GetValue(server) ?? throw new ArgumentException("--server: give the URL of a silo; an embedded store has one process owning every shard", "server");
            await using var cluster = await Target.OpenAsync(null, url);
            var target = parse.GetValue(to);
            if (target is not null && string.IsNullOrWhiteSpace(target))
            {
                throw new ArgumentException("--to: give the address of an active silo, or leave --to out to return the shards to automatic placement", "to");
            }

            var count = await cluster.MoveShardsAsync(parse.GetValue(shards)!, target);
            Console.WriteLine(target is null
                ? $"{count} shards placed automatically again; they move within a few seconds"
                : $"{count} shards pinned to {target}; they move there within a few seconds (follow them on /v1/shards)");
            return 0;
        });
        return command;
    }
}
