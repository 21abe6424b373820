using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Portico.Identity.Infrastructure;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>Choosing SQLite or PostgreSQL from configuration; the PostgreSQL model is checked without a server.</summary>
public sealed class DatabaseProviderTests
{
    [Theory]
    [InlineData("Data Source=identity.db", IdentityDatabaseProvider.Sqlite)]
    [InlineData("Data Source=/var/lib/portico/identity.db;Cache=Shared", IdentityDatabaseProvider.Sqlite)]
    [InlineData("Host=localhost;Database=identity;Username=portico;Password=secret", IdentityDatabaseProvider.Postgres)]
    [InlineData("Server=db.internal;Port=5432;Database=identity", IdentityDatabaseProvider.Postgres)]
    public void ResolveProvider_Auto_FollowsTheConnectionString(string connectionString, IdentityDatabaseProvider expected)
    {
        Assert.Equal(expected, IdentityServiceCollectionExtensions.ResolveProvider(IdentityDatabaseProvider.Auto, connectionString));
    }

    [Fact]
    public void ResolveProvider_Configured_Wins()
    {
        Assert.Equal(IdentityDatabaseProvider.Postgres, IdentityServiceCollectionExtensions.ResolveProvider(IdentityDatabaseProvider.Postgres, "Data Source=x.db"));
        Assert.Equal(IdentityDatabaseProvider.Sqlite, IdentityServiceCollectionExtensions.ResolveProvider(IdentityDatabaseProvider.Sqlite, "Host=localhost"));
    }

    [Fact]
    public void PostgresModel_CreatesEveryTableWithTimestampColumns()
    {
        var options = new DbContextOptionsBuilder<IdentityDbContext>().UseNpgsql("Host=localhost;Database=identity").Options;
        using var db = new IdentityDbContext(options);

        var script = db.Database.GenerateCreateScript();

        foreach (var table in new[] { "Users", "RefreshTokenFamilies", "RefreshTokens", "SigningKeys", "LoginThrottles" })
        {
            Assert.Contains($"CREATE TABLE \"{table}\"", script, StringComparison.Ordinal);
        }
        Assert.Contains("timestamp with time zone", script, StringComparison.Ordinal);
        Assert.Contains("CREATE UNIQUE INDEX \"IX_Users_NormalizedEmail\"", script, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_OnADatabaseFromAnEarlierVersion_FailsSayingSo()
    {
        var path = Portico.Tests.Common.TestDatabases.NewPath("identity");
        try
        {
            await using (var old = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
            {
                await old.OpenAsync(TestContext.Current.CancellationToken);
                await using var create = old.CreateCommand();
                create.CommandText = "CREATE TABLE \"SigningKeys\" (\"Id\" TEXT PRIMARY KEY, \"PrivateKey\" BLOB)";
                await create.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
            }
            await using var app = new IdentityApp(path);

            var error = Assert.ThrowsAny<Exception>(() => app.Address);

            Assert.Contains("created by an earlier version", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            IdentityApp.DeleteFiles(path);
        }
    }

    [Fact]
    public async Task Start_OnAPostgresDatabaseFromAnEarlierVersion_FailsSayingSo()
    {
        await using var database = await IdentityTestDatabase.CreateAsync(DatabaseEngine.Postgres);
        await using (var old = new NpgsqlConnection(database.ConnectionString))
        {
            await old.OpenAsync(TestContext.Current.CancellationToken);
            await using var create = new NpgsqlCommand("CREATE TABLE \"SigningKeys\" (\"Id\" text PRIMARY KEY, \"PrivateKey\" bytea)", old);
            await create.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }
        await using var app = database.NewApp();

        var error = Assert.ThrowsAny<Exception>(() => app.Address);

        Assert.Contains("created by an earlier version", error.ToString(), StringComparison.Ordinal);
    }
}
