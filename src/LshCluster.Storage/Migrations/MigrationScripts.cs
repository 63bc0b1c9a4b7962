using System.Globalization;
using System.Reflection;

namespace LshCluster.Storage.Migrations;

/// <summary>Loads the migrations embedded for one database engine.</summary>
internal static class MigrationScripts
{
    /// <summary>The folder of the SQLite scripts.</summary>
    public const string Sqlite = "Sqlite";

    /// <summary>The folder of the PostgreSQL scripts.</summary>
    public const string Postgres = "Postgres";

    /// <summary>
    /// The scripts under <c>Migrations/<paramref name="engine"/>/</c>, in version order. Versions must run 1, 2, 3, …
    /// without gaps, so that a database at version n needs exactly the scripts after n.
    /// </summary>
    /// <exception cref="InvalidOperationException">A script is misnamed, a version repeats or one is missing.</exception>
    public static IReadOnlyList<Migration> Load(string engine)
    {
        var assembly = typeof(MigrationScripts).Assembly;
        var prefix = $"{typeof(MigrationScripts).Namespace}.{engine}.";
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(prefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[prefix.Length..];
            var underscore = name.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(name.AsSpan(0, underscore), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"migration script '{name}' ({engine}) is not named NNNN_description.sql");
            }

            migrations.Add(new Migration(version, name, ReadResource(assembly, resource)));
        }

        migrations.Sort((x, y) => x.Version.CompareTo(y.Version));
        for (var i = 0; i < migrations.Count; i++)
        {
            if (migrations[i].Version != i + 1)
            {
                throw new InvalidOperationException(
                    $"{engine} migrations must be numbered 1, 2, 3, … without gaps or repeats; found '{migrations[i].Name}' at position {i + 1}");
            }
        }

        return migrations.Count > 0
            ? migrations
            : throw new InvalidOperationException($"no {engine} migrations are embedded in {assembly.GetName().Name}");
    }

    private static string ReadResource(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded resource '{resource}' cannot be opened");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
