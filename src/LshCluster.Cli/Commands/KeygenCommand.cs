using System.CommandLine;
using System.Security.Cryptography;
using LshCluster.Silo.Security;

namespace LshCluster.Cli.Commands;

/// <summary>
/// <c>lshc keygen NAME ROLE</c>: a new random API key, and the line to configure it with, where only its SHA-256
/// is kept (a leaked configuration then gives no key away).
/// </summary>
internal static class KeygenCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("NAME") { Description = "Shown in logs instead of the key, e.g. ingest-1" };
        var role = new Argument<string>("ROLE") { Description = "producer (ingest, query) or admin (also drain)" };
        var command = new Command("keygen", $"Make an API key: the key for the client (${Credentials.ClientKeyVariable}), and the entry for the silos (${Credentials.KeysVariable})") { name, role };
        command.SetAction(parse =>
        {
            // 32 random bytes, URL-safe base64: 43 characters that survive shells, headers and YAML unquoted.
            var key = "lshc_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            var entry = $"{parse.GetValue(name)}:{parse.GetValue(role)}:{Credentials.HashedForm(key)}";
            _ = Credentials.ParseKey("keygen", entry); // the checks a silo makes: a bad name or role fails here, not at its start
            Console.WriteLine($"key    {key}");
            Console.WriteLine($"entry  {entry}");
            Console.Error.WriteLine($"Give the key to its user (${Credentials.ClientKeyVariable}, or Authorization: Bearer KEY); add the entry to ${Credentials.KeysVariable} or the file in ${Credentials.KeysFileVariable}. The key is not shown again.");
            return 0;
        });
        return command;
    }
}
