using Microsoft.EntityFrameworkCore;

namespace Portico.Catalog.Infrastructure;

/// <summary>
/// Creates the schema and seeds a fresh catalog before the host starts serving. Instances that start
/// together against one SQLite file take turns: the first creates and seeds, the others find it done.
/// </summary>
internal sealed partial class CatalogDbInitializer(IServiceScopeFactory scopeFactory, ILogger<CatalogDbInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CatalogDbContext>();
        var seeded = await InitializeAsync(db, cancellationToken);
        if (seeded > 0)
        {
            Log.CatalogSeeded(logger, seeded);
        }
        else
        {
            Log.CatalogAlreadySeeded(logger);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Creates the schema if needed and seeds an empty catalog; returns how many products it added.</summary>
    internal static async Task<int> InitializeAsync(CatalogDbContext db, CancellationToken cancellationToken)
    {
        // SQLite's BEGIN IMMEDIATE (what Microsoft.Data.Sqlite issues for a non-deferred transaction) takes
        // the write lock before anything is read, so "are there tables? are there rows?" and the writes that
        // follow are one step: a second instance waits on the lock (busy retries up to the command timeout)
        // and then sees the first one's work. The unique index on Name is the backstop.
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await db.Database.EnsureCreatedAsync(cancellationToken);
            if (await db.Products.AnyAsync(cancellationToken))
            {
                return 0;
            }

            var products = CatalogSeedData.CreateProducts();
            db.Products.AddRange(products);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return products.Length;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Seeded the catalog with {Count} products")]
        public static partial void CatalogSeeded(ILogger logger, int count);

        [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Catalog already holds products; seeding skipped")]
        public static partial void CatalogAlreadySeeded(ILogger logger);
    }
}
