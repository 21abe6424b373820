using Microsoft.EntityFrameworkCore;
using Portico.Catalog.Infrastructure;
using Portico.Data;
using Portico.Tests.Common;

namespace Portico.Catalog.Tests;

public sealed class CatalogSeedingTestsOnSqlite() : CatalogSeedingTests(DatabaseEngine.Sqlite);

public sealed class CatalogSeedingTestsOnPostgres() : CatalogSeedingTests(DatabaseEngine.Postgres);

/// <summary>
/// Start-up schema and seeding, alone and with several instances starting together on one empty database (as a
/// scaled-out Catalog does); every test has its own database.
/// </summary>
public abstract class CatalogSeedingTests(DatabaseEngine engine) : IAsyncLifetime
{
    private ServiceTestDatabase _database = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int SeedCount => CatalogSeedData.CreateProducts().Length;

    public async ValueTask InitializeAsync() => _database = await ServiceTestDatabase.CreateAsync(engine, "catalog");

    public async ValueTask DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Fact]
    public async Task Start_TwoInstancesOnTheSameEmptyDatabase_SeedExactlyOnce()
    {
        await using var first = CatalogApp.On(_database);
        await using var second = CatalogApp.On(_database);

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
    public async Task InitializeAsync_ManyConcurrentCallersOnAnEmptyDatabase_OneSeedsAndTheRestFindItDone()
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
    public async Task Start_DatabaseAlreadySeeded_DoesNotSeedAgain()
    {
        await using (var app = CatalogApp.On(_database))
        {
            _ = app.Address;
        }

        await using (var restarted = CatalogApp.On(_database))
        {
            using var client = restarted.CreateHttpClient();
            Assert.Equal(SeedCount, (await client.GetPageAsync("?pageSize=1")).TotalCount);
        }
        Assert.Equal((SeedCount, SeedCount), await CountRowsAndDistinctNamesAsync());
    }

    private CatalogDbContext NewContext()
    {
        var options = new DbContextOptionsBuilder<CatalogDbContext>();
        ServiceDatabase.Configure(options, _database.ConnectionString);
        return new CatalogDbContext(options.Options);
    }

    private async Task<(int Rows, int DistinctNames)> CountRowsAndDistinctNamesAsync()
    {
        await using var db = NewContext();
        var names = await db.Products.Select(p => p.Name).ToListAsync(Ct);
        return (names.Count, names.Distinct().Count());
    }
}
