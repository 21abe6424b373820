using Npgsql;
using Xunit;

namespace Portico.Tests.Common;

/// <summary>
/// A database of its own on the real PostgreSQL server that scripts/test.sh starts and names in
/// <c>PORTICO_TEST_POSTGRES</c> (a connection string without a database). The database is created empty and
/// dropped on disposal. Without the variable a test fails under CI (<c>CI=true</c>), where the server must be there,
/// and is skipped elsewhere. The skip must come from the test itself (its body, its class's constructor or
/// <c>InitializeAsync</c>): xUnit v3 reports a skip thrown by a class fixture as a failure, so a class fixture checks
/// <see cref="IsConfigured"/> and starts nothing, and its test classes take it through <see cref="Required{T}"/>.
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

    /// <summary>Whether <c>PORTICO_TEST_POSTGRES</c> names a server to create test databases on.</summary>
    public static bool IsConfigured => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable));

    /// <summary>
    /// Skips the calling test where no PostgreSQL server is configured, and fails it under CI (<c>CI=true</c>), where
    /// one must be. Call it from a test, never from a class fixture (see the class remarks).
    /// </summary>
    public static void SkipUnlessConfigured()
    {
        if (IsConfigured)
        {
            return;
        }
        var reason = $"{Variable} is not set (a PostgreSQL connection string without a database, e.g. Host=127.0.0.1;Port=5433;Username=postgres).";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail($"{reason} CI must run the PostgreSQL tests: scripts/test.sh starts the server and sets the variable.");
        }
        Assert.Skip($"{reason} Run scripts/test.sh, or start PostgreSQL and set the variable, to include these tests.");
    }

    /// <summary>
    /// <paramref name="fixture"/>, once PostgreSQL is known to be configured (<see cref="SkipUnlessConfigured"/>). A
    /// test class on PostgreSQL passes its class fixture through this in its constructor, so that each test skips
    /// where the fixture, finding no server, started nothing.
    /// </summary>
    public static T Required<T>(T fixture)
    {
        SkipUnlessConfigured();
        return fixture;
    }

    /// <summary>Creates an empty database named after <paramref name="prefix"/> and a random suffix (skipping the test where none can be).</summary>
    public static async Task<PostgresTestDatabase> CreateAsync(string prefix)
    {
        SkipUnlessConfigured();
        var server = Environment.GetEnvironmentVariable(Variable);
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
