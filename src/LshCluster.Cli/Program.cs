using System.CommandLine;
using LshCluster.Cli.Commands;

// lshc: the thin entry point; every command lives in Commands/.
var root = new RootCommand("lshc — LshCluster: near-duplicate detection for embedding vectors")
{
    PlanCommand.Create(),
    CodesCommand.Create(),
};

try
{
    return root.Parse(args).Invoke();
}
catch (Exception e) when (e is ArgumentException or FormatException or IOException or InvalidOperationException)
{
    Console.Error.WriteLine($"lshc: {e.Message}");
    return 2;
}
