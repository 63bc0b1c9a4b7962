namespace LshCluster.Storage.Migrations;

/// <summary>One versioned schema script, embedded in this assembly as <c>Migrations/ENGINE/NNNN_name.sql</c>.</summary>
/// <param name="Version">The number the file name starts with; applied in ascending order, each once.</param>
/// <param name="Name">The file name, for messages.</param>
/// <param name="Sql">The script.</param>
internal sealed record Migration(int Version, string Name, string Sql);
