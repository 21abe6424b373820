using Npgsql;
using Xunit;

namespace Portico.Tests.Common;

/// <summary>
/// A database of its own on the real PostgreSQL server that scripts/test.sh starts and names in
/// <c>PORTICO_TEST_POSTGRES</c> (a connection string without a database). The database is created empty and
/// dropped on disposal. Without the variable a test fails under CI (<c>CI=true</c>), where the server must be there,
/// and is skipped elsewhere.
/// </summary>
public sealed class PostgresTestDatabase : IAsyncDisposable
{
    public const string Variable = "PORTICO_TEST_POSTGRES";

    private readonly string _serverConnectionString;

    private PostgresTestDatabase(string serverConnectionString, string name)
    {
        _serverConnectionString = serverConnectionString;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = name }.ConnectionString;
    }

    public string Name { get; }

    /// <summary>The connection string a service gets (<c>ConnectionStrings:…db</c>); it names a <c>Host</c>, so Portico.Data picks PostgreSQL.</summary>
    public string ConnectionString { get; }

    /// <summary>Creates an empty database named after <paramref name="prefix"/> and a random suffix.</summary>
    public static async Task<PostgresTestDatabase> CreateAsync(string prefix)
    {
        var server = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(server))
        {
            var reason = $"{Variable} is not set (a PostgreSQL connection string without a database, e.g. Host=127.0.0.1;Port=5433;Username=postgres).";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail($"{reason} CI must run the PostgreSQL tests: scripts/test.sh starts the server and sets the variable.");
            }
            Assert.Skip($"{reason} Run scripts/test.sh, or start PostgreSQL and set the variable, to include these tests.");
        }
        var database = new PostgresTestDatabase(server!, $"{prefix.ToLowerInvariant()}_{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 33)]);
        await using var connection = new NpgsqlConnection(server);
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Name}\"", connection);
        await create.ExecuteNonQueryAsync();
        return database;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_serverConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
