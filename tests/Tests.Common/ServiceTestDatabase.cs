namespace Portico.Tests.Common;

/// <summary>The engine a service's test database runs on; suites run their database-relevant classes on both.</summary>
public enum DatabaseEngine
{
    /// <summary>A SQLite file in the temp folder (the default: no server needed).</summary>
    Sqlite,

    /// <summary>A database of its own on the real PostgreSQL server named by <c>PORTICO_TEST_POSTGRES</c> (<see cref="PostgresTestDatabase"/>).</summary>
    Postgres,
}

/// <summary>
/// One service's database for one fixture, on either engine: its connection string (what the service gets as
/// <c>ConnectionStrings:…db</c>), removed on disposal. On PostgreSQL, creating it skips the test where no server is
/// configured and fails under CI (see <see cref="PostgresTestDatabase.CreateAsync"/>).
/// </summary>
public sealed class ServiceTestDatabase : IAsyncDisposable
{
    private readonly PostgresTestDatabase? _postgres;

    private ServiceTestDatabase(DatabaseEngine engine, string connectionString, string? sqlitePath, PostgresTestDatabase? postgres)
    {
        Engine = engine;
        ConnectionString = connectionString;
        SqlitePath = sqlitePath;
        _postgres = postgres;
    }

    public DatabaseEngine Engine { get; }

    public string ConnectionString { get; }

    /// <summary>The SQLite file, or null on PostgreSQL.</summary>
    public string? SqlitePath { get; }

    /// <summary>The EF Core provider a service on <paramref name="engine"/> uses (<c>Database.ProviderName</c>), so a suite can check its fixture really is on that engine.</summary>
    public static string ProviderName(DatabaseEngine engine) =>
        engine == DatabaseEngine.Postgres ? "Npgsql.EntityFrameworkCore.PostgreSQL" : "Microsoft.EntityFrameworkCore.Sqlite";

    /// <summary>
    /// Whether a database on <paramref name="engine"/> can be made here: SQLite always, PostgreSQL where
    /// <c>PORTICO_TEST_POSTGRES</c> is set. A class fixture that finds it cannot starts nothing (throwing there would
    /// fail its tests rather than skip them); its test classes skip through <see cref="PostgresTestDatabase.Required{T}"/>.
    /// </summary>
    public static bool IsAvailable(DatabaseEngine engine) => engine == DatabaseEngine.Sqlite || PostgresTestDatabase.IsConfigured;

    /// <summary>Skips the calling test (fails it under CI) where <paramref name="engine"/> is not <see cref="IsAvailable"/>.</summary>
    public static void SkipUnlessAvailable(DatabaseEngine engine)
    {
        if (engine == DatabaseEngine.Postgres)
        {
            PostgresTestDatabase.SkipUnlessConfigured();
        }
    }

    public static async Task<ServiceTestDatabase> CreateAsync(DatabaseEngine engine, string service)
    {
        if (engine == DatabaseEngine.Postgres)
        {
            var postgres = await PostgresTestDatabase.CreateAsync(service);
            return new ServiceTestDatabase(engine, postgres.ConnectionString, null, postgres);
        }
        var path = TestDatabases.NewPath(service);
        return new ServiceTestDatabase(engine, $"Data Source={path}", path, null);
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
        else
        {
            TestDatabases.Delete(SqlitePath!);
        }
    }
}
