using Microsoft.EntityFrameworkCore;
using Portico.Data;

namespace Portico.Catalog.Infrastructure;

/// <summary>
/// Seeds a fresh catalog before the host starts serving (the schema is <see cref="ServiceDatabaseInitializer{TContext}"/>'s).
/// Instances that start together against one database take turns: the first seeds, the others find it done.
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
        await ServiceDatabaseInitializer<CatalogDbContext>.EnsureSchemaAsync(db, cancellationToken);

        // On SQLite, BEGIN IMMEDIATE (what Microsoft.Data.Sqlite issues for a non-deferred transaction) takes the write
        // lock before anything is read, so "are there rows?" and the writes that follow are one step: a second instance
        // waits on the lock and then sees the first one's work. On PostgreSQL two instances may both find the table
        // empty; the unique index on Name stops the second, which then finds it seeded.
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            if (await db.Products.AnyAsync(cancellationToken))
            {
                return 0;
            }

            var products = CatalogSeedData.CreateProducts();
            db.Products.AddRange(products);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException e) when (ServiceDatabase.IsUniqueViolation(e))
            {
                db.ChangeTracker.Clear();
                return 0;
            }
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
