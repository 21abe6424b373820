using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Portico.Catalog.Infrastructure;
using Portico.Tests.Common;

namespace Portico.Catalog.Tests;

/// <summary>Start-up seeding and what happens when the database goes wrong; every test has its own file.</summary>
public sealed class CatalogDatabaseTests : IDisposable
{
    private readonly string _databasePath = TestDatabases.NewPath("catalog");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int SeedCount => CatalogSeedData.CreateProducts().Length;

    public void Dispose() => TestDatabases.Delete(_databasePath);

    [Fact]
    public async Task Start_TwoInstancesOnTheSameEmptyFile_SeedExactlyOnce()
    {
        await using var first = new CatalogApp(_databasePath);
        await using var second = new CatalogApp(_databasePath);

        // Both hosts run their start-up (schema + seed) at the same time.
        var addresses = await Task.WhenAll(Task.Run(() => first.Address, Ct), Task.Run(() => second.Address, Ct));

        foreach (var address in addresses)
        {
            using var client = new HttpClient { BaseAddress = address };
            var page = await client.GetPageAsync("?pageSize=1");
            Assert.Equal(SeedCount, page.TotalCount);
        }
        Assert.Equal((SeedCount, SeedCount), await CountRowsAndDistinctNamesAsync());
    }

    [Fact]
    public async Task InitializeAsync_ManyConcurrentCallersOnEmptyFile_OneSeedsAndTheRestFindItDone()
    {
        var contexts = Enumerable.Range(0, 4).Select(_ => NewContext()).ToList();
        try
        {
            var seeded = await Task.WhenAll(contexts.Select(db => Task.Run(() => CatalogDbInitializer.InitializeAsync(db, Ct), Ct)));

            Assert.Equal(SeedCount, seeded.Sum());
            Assert.Single(seeded, n => n > 0);
            Assert.Equal((SeedCount, SeedCount), await CountRowsAndDistinctNamesAsync());
        }
        finally
        {
            foreach (var db in contexts)
            {
                await db.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Start_FileAlreadySeeded_DoesNotSeedAgain()
    {
        await using (var app = new CatalogApp(_databasePath))
        {
            _ = app.Address;
        }

        await using (var restarted = new CatalogApp(_databasePath))
        {
            using var client = restarted.CreateHttpClient();
            Assert.Equal(SeedCount, (await client.GetPageAsync("?pageSize=1")).TotalCount);
        }
        Assert.Equal((SeedCount, SeedCount), await CountRowsAndDistinctNamesAsync());
    }

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

    private CatalogDbContext NewContext() =>
        new(new DbContextOptionsBuilder<CatalogDbContext>().UseSqlite($"Data Source={_databasePath}").Options);

    private async Task<(long Rows, long DistinctNames)> CountRowsAndDistinctNamesAsync()
    {
        await using var connection = new SqliteConnection($"Data Source={_databasePath}");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), COUNT(DISTINCT Name) FROM Products;";
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
