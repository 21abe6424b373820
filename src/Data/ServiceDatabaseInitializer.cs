using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
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

    /// <summary>Creates the schema if missing; safe when several instances start together on one database.</summary>
    public static async Task EnsureSchemaAsync(TContext db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (!db.Database.IsSqlite())
        {
            await EnsurePostgresSchemaAsync(db, cancellationToken);
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

    /// <summary>
    /// PostgreSQL: EnsureCreated looks for tables and then creates them, so two instances starting together on an
    /// empty database both create, and one fails on "relation already exists" (42P07). A session advisory lock makes
    /// them take turns; advisory locks are per database, so one key serves every service. Creating the database
    /// itself cannot happen inside that session, so it is done first (a concurrent creator's 42P04 means it exists).
    /// </summary>
    private static async Task EnsurePostgresSchemaAsync(TContext db, CancellationToken cancellationToken)
    {
        var creator = db.GetService<IRelationalDatabaseCreator>();
        if (!await creator.ExistsAsync(cancellationToken))
        {
            try
            {
                await creator.CreateAsync(cancellationToken);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateDatabase)
            {
            }
        }

        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await db.Database.ExecuteSqlRawAsync($"SELECT pg_advisory_lock({SchemaLockKey})", cancellationToken);
            try
            {
                await db.Database.EnsureCreatedAsync(cancellationToken);
            }
            finally
            {
                // Pooled connections keep their session, and with it a session lock: release it explicitly.
                await db.Database.ExecuteSqlRawAsync($"SELECT pg_advisory_unlock({SchemaLockKey})", CancellationToken.None);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>The advisory lock key taken while creating a schema ("portico" as ASCII).</summary>
    private const long SchemaLockKey = 0x706F727469636F;
}
