using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Portico.Data;

/// <summary>Creates the schema before the host serves, so the first request finds the tables; on SQLite also switches the file to WAL.</summary>
public sealed class ServiceDatabaseInitializer<TContext>(IServiceScopeFactory scopeFactory) : IHostedService
    where TContext : DbContext
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        await EnsureSchemaAsync(db, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Creates the schema if missing; safe when several instances start together on one SQLite file.</summary>
    public static async Task EnsureSchemaAsync(TContext db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
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
            // Write-ahead logging: readers do not wait for the writer, nor it for them.
            // The mode is stored in the file, so this is done once per database, outside any transaction.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }
}
