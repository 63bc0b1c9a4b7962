using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace LshCluster.Storage.Tests;

/// <summary>
/// A throwaway PostgreSQL server for tests: <c>initdb</c> into a temporary directory and <c>pg_ctl start</c> on a free
/// loopback port, stopped (<c>pg_ctl stop -m immediate</c>) and deleted on dispose. The binaries come from
/// <c>LSHC_PG_BIN</c>, else <c>/usr/lib/postgresql/15/bin</c>, else the newest <c>/usr/lib/postgresql/*/bin</c>; when none
/// is found the fixture fails with a message saying how to install them (tests that need PostgreSQL never skip).
/// </summary>
/// <remarks>
/// <c>initdb</c> refuses to run as root, and these machines run tests as root: then both commands run as the
/// <c>postgres</c> user (<c>runuser</c>) on a directory it owns. The server listens on 127.0.0.1 only, trusts local
/// connections and has the superuser <see cref="User"/>.
/// </remarks>
public sealed class PostgresServer : IDisposable
{
    /// <summary>The superuser that initdb creates.</summary>
    public const string User = "lsh";

    private const string DefaultBinDirectory = "/usr/lib/postgresql/15/bin";

    private readonly string _binDirectory;
    private readonly bool _asPostgresUser;
    private readonly string _root;
    private readonly string _dataDirectory;
    private bool _stopped;

    /// <summary>Starts a server; used by xunit as a fixture.</summary>
    /// <exception cref="InvalidOperationException">The binaries are missing, or the server did not start.</exception>
    public PostgresServer()
    {
        _binDirectory = FindBinDirectory();
        _asPostgresUser = Environment.UserName == "root";
        _root = Directory.CreateTempSubdirectory("lshc-pg-").FullName;
        _dataDirectory = Path.Combine(_root, "data");
        try
        {
            if (_asPostgresUser)
            {
                Run("chown", ["postgres:postgres", _root], asPostgres: false);
            }

            Run(Path.Combine(_binDirectory, "initdb"),
                ["-D", _dataDirectory, "-A", "trust", "-U", User, "-E", "UTF8", "--locale=C", "--no-sync"], _asPostgresUser);
            Port = StartOnFreePort();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; private set; }

    /// <summary>A connection string for the maintenance database <c>postgres</c>.</summary>
    public string AdminConnectionString => ConnectionString("postgres");

    /// <summary>A connection string for <paramref name="database"/> as the superuser.</summary>
    public string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = User, Database = database }.ConnectionString;

    /// <summary>Creates an empty database with a unique name and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "test")
    {
        var name = $"{prefix}_{Guid.NewGuid():N}".ToLowerInvariant();
        await using var connection = new NpgsqlConnection(AdminConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>
    /// Crashes the server (<c>pg_ctl stop -m immediate</c>: clients see their connections drop, committed data survives
    /// through WAL recovery), keeps it down for <paramref name="downtime"/>, and starts it again on the same port.
    /// </summary>
    public async Task RestartAsync(TimeSpan downtime)
    {
        Run(Path.Combine(_binDirectory, "pg_ctl"), ["stop", "-D", _dataDirectory, "-m", "immediate", "-w"], _asPostgresUser);
        await Task.Delay(downtime);
        Run(Path.Combine(_binDirectory, "pg_ctl"),
            ["start", "-D", _dataDirectory, "-l", Path.Combine(_root, "server.log"), "-w", "-t", "60", "-o", $"-c listen_addresses=127.0.0.1 -k {_root} -p {Port}"],
            _asPostgresUser);
    }

    /// <summary>Stops the server at once (no shutdown checkpoint: nothing here must survive) and deletes its files.</summary>
    public void Dispose()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        if (File.Exists(Path.Combine(_dataDirectory, "postmaster.pid")))
        {
            TryRun(Path.Combine(_binDirectory, "pg_ctl"), ["stop", "-D", _dataDirectory, "-m", "immediate", "-w"], _asPostgresUser);
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover directory under the temporary folder is harmless; failing the run for it would not be.
        }
    }

    private int StartOnFreePort()
    {
        var log = Path.Combine(_root, "server.log");
        for (var attempt = 1; ; attempt++)
        {
            var port = FreeLoopbackPort();
            var (exitCode, output) = TryRun(Path.Combine(_binDirectory, "pg_ctl"),
                ["start", "-D", _dataDirectory, "-l", log, "-w", "-t", "60", "-o", $"-c listen_addresses=127.0.0.1 -k {_root} -p {port}"],
                _asPostgresUser);
            if (exitCode == 0)
            {
                return port;
            }

            // Another process may have taken the port between our probe and the server's bind: try another one.
            if (attempt == 3)
            {
                var serverLog = File.Exists(log) ? File.ReadAllText(log) : "(no server log)";
                throw new InvalidOperationException($"PostgreSQL did not start (pg_ctl exit code {exitCode}):\n{output}\n{serverLog}");
            }
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindBinDirectory()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("LSHC_PG_BIN") is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        candidates.Add(DefaultBinDirectory);
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                .Select(d => Path.Combine(d, "bin")));
        }

        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "pg_ctl")) && File.Exists(Path.Combine(d, "initdb")))
            ?? throw new InvalidOperationException(
                $"PostgreSQL server binaries (initdb, pg_ctl) were not found in {string.Join(", ", candidates)}. The storage tests run " +
                "against a real throwaway server: install it with 'apt-get install -y postgresql' (scripts/test.sh does) or set " +
                "LSHC_PG_BIN to the directory that holds pg_ctl.");
    }

    private static void Run(string program, IReadOnlyList<string> arguments, bool asPostgres)
    {
        var (exitCode, output) = TryRun(program, arguments, asPostgres);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} failed with exit code {exitCode}:\n{output}");
        }
    }

    private static (int ExitCode, string Output) TryRun(string program, IReadOnlyList<string> arguments, bool asPostgres)
    {
        var start = new ProcessStartInfo(asPostgres ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres)
        {
            foreach (var argument in (string[])["-u", "postgres", "--", program])
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {start.FileName}");

        // Read both streams concurrently: a child that fills one pipe while we wait on the other would hang.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}

/// <summary>The tests that share one <see cref="PostgresServer"/>; each test still gets its own database.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "PostgreSQL server";
}
