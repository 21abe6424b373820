using Microsoft.EntityFrameworkCore;

namespace Portico.Ordering.Infrastructure;

/// <summary>Creates the schema before the host serves; on SQLite also switches the file to WAL.</summary>
internal sealed class OrderingDbInitializer(IServiceScopeFactory scopeFactory) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        await EnsureSchemaAsync(db, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal static async Task EnsureSchemaAsync(OrderingDbContext db, CancellationToken cancellationToken)
    {
        if (!db.Database.IsSqlite())
        {
            // PostgreSQL: EnsureCreated may have to create the database itself, which cannot happen inside a transaction.
            await db.Database.EnsureCreatedAsync(cancellationToken);
            return;
        }

        // SQLite: BEGIN IMMEDIATE takes the write lock before looking, so instances starting together on one
        // file take turns: the first creates the tables, the others find them.
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
            {
                await db.Database.EnsureCreatedAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }
            // Write-ahead logging: reads do not wait for a writer, nor it for them. Stored in the file.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }
}
