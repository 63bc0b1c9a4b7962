using System.Security.Cryptography;
using System.Text;

namespace LshCluster.Silo.Security;

/// <summary>What a caller may do: an API key has one role.</summary>
public enum Role
{
    /// <summary>Ingest and query, read the cluster's state.</summary>
    Producer,

    /// <summary>Everything a producer may, and drain silos.</summary>
    Admin,
}

/// <summary>An API key as configured: a name for logs, a role, and the SHA-256 of the secret (the secret is not kept).</summary>
/// <param name="Name">Shown in logs and refusals instead of the secret.</param>
/// <param name="Role">What the key may do.</param>
/// <param name="SecretHash">SHA-256 of the key's secret.</param>
public sealed record ApiKey(string Name, Role Role, byte[] SecretHash);

/// <summary>
/// The credentials a server checks: API keys for people and producers, and the shared secret silos authenticate each
/// other by on the silo port (<see cref="SiloPortSecurity"/>). They come from the environment or files, never from the
/// command line (which lands in shell histories and <c>ps</c>). With no keys the public API is open; with no cluster
/// secret (and no TLS certificate) the silo port is.
/// </summary>
public sealed class Credentials
{
    /// <summary>API keys, <c>NAME:ROLE:SECRET</c> separated by commas or newlines (SECRET may be <c>sha256:HEX</c>).</summary>
    public const string KeysVariable = "LSHC_API_KEYS";

    /// <summary>A file of API keys, one <c>NAME:ROLE:SECRET</c> per line, <c>#</c> starts a comment.</summary>
    public const string KeysFileVariable = "LSHC_API_KEYS_FILE";

    /// <summary>
    /// The secret every silo of a cluster authenticates the others by, on the silo port (mutual TLS over a key it
    /// derives). Several, separated by commas or newlines, during a rotation: a silo presents the first and accepts any.
    /// </summary>
    public const string ClusterSecretVariable = "LSHC_CLUSTER_SECRET";

    /// <summary>A file holding <see cref="ClusterSecretVariable"/>'s value (a Kubernetes or Docker secret).</summary>
    public const string ClusterSecretFileVariable = "LSHC_CLUSTER_SECRET_FILE";

    /// <summary>The key a client (<c>lshc … --server</c>) sends.</summary>
    public const string ClientKeyVariable = "LSHC_API_KEY";

    /// <summary>Shortest secret accepted: a guessable key protects nothing.</summary>
    public const int MinSecretLength = 16;

    private const string HashPrefix = "sha256:";

    private Credentials(IReadOnlyList<ApiKey> keys, IReadOnlyList<string> clusterSecrets)
    {
        Keys = keys;
        ClusterSecret = clusterSecrets.Count > 0 ? clusterSecrets[0] : null;
        ClusterSecrets = clusterSecrets;
    }

    /// <summary>No keys, no secret: everything is open (a laptop, a test, the demo).</summary>
    public static Credentials None { get; } = new([], []);

    /// <summary>The API keys; empty: the public API takes every caller.</summary>
    public IReadOnlyList<ApiKey> Keys { get; }

    /// <summary>The silos' shared secret a silo presents to the others (the first configured), or null.</summary>
    public string? ClusterSecret { get; }

    /// <summary>Every cluster secret configured, the one presented first.</summary>
    public IReadOnlyList<string> ClusterSecrets { get; }

    /// <summary>Whether the public API asks for a key.</summary>
    public bool KeysRequired => Keys.Count > 0;

    /// <summary>Whether the silo port takes only silos holding the cluster secret.</summary>
    public bool ClusterSecretRequired => ClusterSecret is not null;

    /// <summary>Reads <see cref="KeysVariable"/>, <see cref="KeysFileVariable"/>, <see cref="ClusterSecretVariable"/> and <see cref="ClusterSecretFileVariable"/>.</summary>
    /// <exception cref="ArgumentException">A value is malformed; the message names the variable and the entry, never a secret.</exception>
    public static Credentials FromEnvironment(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var entries = new List<(string Source, string Text)>();
        if (environment(KeysVariable) is { Length: > 0 } inline)
        {
            entries.AddRange(Split(inline).Select((e, i) => ($"{KeysVariable} entry {i + 1}", e)));
        }

        if (environment(KeysFileVariable) is { Length: > 0 } path)
        {
            entries.AddRange(ReadLines(KeysFileVariable, path).Select(l => ($"{path} line {l.Number}", l.Text)));
        }

        var secrets = environment(ClusterSecretVariable) is { Length: > 0 } s ? s : null;
        if (environment(ClusterSecretFileVariable) is { Length: > 0 } secretPath)
        {
            if (secrets is not null)
            {
                throw new ArgumentException($"{ClusterSecretVariable}, {ClusterSecretFileVariable}: set one of them, not both", ClusterSecretVariable);
            }

            secrets = ReadFile(ClusterSecretFileVariable, secretPath);
        }

        var clusterSecrets = secrets is null ? [] : Split(secrets).ToList();
        if (clusterSecrets.Any(c => c.Length < MinSecretLength))
        {
            throw new ArgumentException($"{ClusterSecretVariable}: a cluster secret must have at least {MinSecretLength} characters", ClusterSecretVariable);
        }

        return new Credentials(ParseKeys(entries), clusterSecrets);
    }

    /// <summary>Keys and secret given directly (tests, embedding); the same rules as <see cref="FromEnvironment"/>.</summary>
    public static Credentials Of(string? keys, string? clusterSecret = null) =>
        FromEnvironment(name => name switch { KeysVariable => keys, ClusterSecretVariable => clusterSecret, _ => null });

    /// <summary>Who presents <paramref name="secret"/>: a key's name and role, or null for a stranger.</summary>
    public (string Name, Role Role)? Identify(string secret)
    {
        var hash = Hash(secret);
        // Every key is compared (in constant time each), so the time taken does not tell which one nearly matched.
        (string, Role)? found = null;
        foreach (var key in Keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, key.SecretHash))
            {
                found = (key.Name, key.Role);
            }
        }

        return found;
    }

    /// <summary>The form to keep in configuration instead of a secret: <c>sha256:HEX</c>.</summary>
    public static string HashedForm(string secret) => HashPrefix + Convert.ToHexStringLower(Hash(secret));

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>One <c>NAME:ROLE:SECRET</c> entry; <paramref name="source"/> says where it came from in errors.</summary>
    /// <exception cref="ArgumentException">It is malformed; the message names <paramref name="source"/> and the key, never the secret.</exception>
    public static ApiKey ParseKey(string source, string text)
    {
        var parts = text.Split(':', 3);
        if (parts.Length != 3)
        {
            throw new ArgumentException($"{source}: expected NAME:ROLE:SECRET (roles: producer, admin)", KeysVariable);
        }

        var name = parts[0].Trim();
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"{source}: the name '{name}' must be letters, digits, '-', '_' or '.'", KeysVariable);
        }

        var role = parts[1].Trim().ToLowerInvariant() switch
        {
            "producer" => Role.Producer,
            "admin" => Role.Admin,
            // The bad value is not repeated: an entry written NAME:SECRET:ROLE would put the secret in the log.
            _ => throw new ArgumentException($"{source} ({name}): the role must be producer or admin (entries are NAME:ROLE:SECRET)", KeysVariable),
        };
        var secret = parts[2].Trim();
        if (secret.StartsWith(HashPrefix, StringComparison.Ordinal))
        {
            var hex = secret[HashPrefix.Length..];
            return hex.Length == 64 && hex.All(char.IsAsciiHexDigit)
                ? new ApiKey(name, role, Convert.FromHexString(hex))
                : throw new ArgumentException($"{source} ({name}): a hashed secret is sha256: and 64 hex digits (lshc keygen prints one)", KeysVariable);
        }

        return secret.Length >= MinSecretLength
            ? new ApiKey(name, role, Hash(secret))
            : throw new ArgumentException($"{source} ({name}): the secret must have at least {MinSecretLength} characters (lshc keygen makes one)", KeysVariable);
    }

    private static List<ApiKey> ParseKeys(List<(string Source, string Text)> entries)
    {
        var keys = new List<ApiKey>();
        foreach (var (source, text) in entries)
        {
            var key = ParseKey(source, text);
            if (keys.Any(k => k.Name == key.Name))
            {
                throw new ArgumentException($"{source}: the name '{key.Name}' is used twice", KeysVariable);
            }

            if (keys.FirstOrDefault(k => k.SecretHash.AsSpan().SequenceEqual(key.SecretHash)) is { } same)
            {
                throw new ArgumentException($"{source} ({key.Name}): the same secret as key '{same.Name}'; give each key its own", KeysVariable);
            }

            keys.Add(key);
        }

        return keys;
    }

    private static IEnumerable<string> Split(string text) =>
        text.Split([',', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static IEnumerable<(int Number, string Text)> ReadLines(string variable, string path) =>
        ReadFile(variable, path).Split('\n')
            .Select((line, i) => (Number: i + 1, Text: line.Trim()))
            .Where(l => l.Text.Length > 0 && !l.Text.StartsWith('#'));

    private static string ReadFile(string variable, string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{variable}: cannot read '{path}': {e.Message}", variable, e);
        }
    }
}
