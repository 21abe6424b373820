using System.Net;
using Microsoft.Data.Sqlite;
using Portico.Tests.Common;

namespace Portico.Catalog.Tests;

/// <summary>What happens when the SQLite file goes wrong; every test has its own file. Seeding: <see cref="CatalogSeedingTests"/>.</summary>
public sealed class CatalogDatabaseTests : IDisposable
{
    private readonly string _databasePath = TestDatabases.NewPath("catalog");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => TestDatabases.Delete(_databasePath);

    [Fact]
    public async Task HealthReady_DatabaseFileGone_ReturnsUnhealthy()
    {
        await using var app = new CatalogApp(_databasePath);
        using var client = app.CreateHttpClient();
        using (var healthy = await client.GetAsync("health/ready", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        }

        TestDatabases.Delete(_databasePath);

        using var response = await client.GetAsync("health/ready", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        using var live = await client.GetAsync("health/live", Ct);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task GetProducts_DatabaseBroken_Returns500Problem()
    {
        await using var app = new CatalogApp(_databasePath);
        using var client = app.CreateHttpClient();
        _ = await client.GetPageAsync("?pageSize=1");

        await using (var connection = new SqliteConnection(app.ConnectionString))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "DROP TABLE Products;";
            await command.ExecuteNonQueryAsync(Ct);
        }

        using var response = await client.GetAsync("api/products", Ct);
        var problem = await response.ReadProblemAsync(HttpStatusCode.InternalServerError);
        Assert.DoesNotContain("Products", problem.Detail ?? "", StringComparison.Ordinal);
    }
}
