using LshCluster.Storage.Postgres;
using LshCluster.Storage.Sqlite;

namespace LshCluster.Storage;

/// <summary>Opens a store from the value of the <c>--store</c> option.</summary>
public static class DedupStores
{
    /// <summary>The prefix of an embedded store: <c>sqlite:PATH</c>.</summary>
    public const string SqlitePrefix = "sqlite:";

    /// <summary>The prefix of a PostgreSQL store: <c>postgres:CONNECTION-STRING</c>.</summary>
    public const string PostgresPrefix = "postgres:";

    private const string ExpectedForms =
        "expected 'sqlite:PATH' (e.g. sqlite:lshc-data/cluster.db) or 'postgres:CONNECTION-STRING' " +
        "(e.g. postgres:Host=localhost;Database=lsh;Username=lsh;Password=...)";

    /// <summary>
    /// Opens the store that <paramref name="store"/> names: <c>sqlite:PATH</c> (the file's directory is created when
    /// missing) or <c>postgres:CONNECTION-STRING</c> (an Npgsql connection string). Nothing is migrated or read yet:
    /// call <see cref="IDedupStore.MigrateAsync"/> next.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// Any other form, an empty path or connection string, or a connection string that cannot be parsed. The message
    /// names <c>--store</c> and the expected forms, and never repeats a connection string (it may hold a password).
    /// </exception>
    public static IDedupStore Open(string store)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (store.StartsWith(SqlitePrefix, StringComparison.OrdinalIgnoreCase))
        {
            var path = store[SqlitePrefix.Length..];
            if (string.IsNullOrWhiteSpace(path))
            {
                throw new ArgumentException($"--store: 'sqlite:' needs a file path; {ExpectedForms}");
            }

            try
            {
                return new SqliteDedupStore(path);
            }
            catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or NotSupportedException)
            {
                throw new ArgumentException($"--store: cannot use '{path}' as the SQLite file: {e.Message}", e);
            }
        }

        if (store.StartsWith(PostgresPrefix, StringComparison.OrdinalIgnoreCase))
        {
            var connectionString = store[PostgresPrefix.Length..];
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                throw new ArgumentException($"--store: 'postgres:' needs a connection string; {ExpectedForms}");
            }

            try
            {
                return new PostgresDedupStore(connectionString);
            }
            catch (ArgumentException e)
            {
                // Npgsql names the offending keyword, never a value; the connection string itself is not repeated.
                throw new ArgumentException($"--store: the PostgreSQL connection string is not valid ({e.Message}); {ExpectedForms}", e);
            }
        }

        throw new ArgumentException($"--store: {Redacted(store)} is not a store; {ExpectedForms}");
    }

    /// <summary>What an error message may repeat of an unrecognised value: its prefix, or the value when it cannot hold a secret.</summary>
    private static string Redacted(string store)
    {
        var colon = store.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0)
        {
            return $"a value starting with '{store[..(colon + 1)]}'";
        }

        return store.Length == 0
            ? "an empty value"
            : store.Contains('=', StringComparison.Ordinal) || store.Contains('@', StringComparison.Ordinal)
                ? "a value without a 'sqlite:' or 'postgres:' prefix"
                : $"'{store}'";
    }
}
