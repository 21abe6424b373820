using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Portico.Data;
using Portico.Identity.Accounts;
using Portico.Identity.Keys;

namespace Portico.Identity.Infrastructure;

/// <summary>
/// Before the host serves: creates the schema if needed, seeds the administrator account where configured,
/// and makes sure a signing key exists.
/// </summary>
internal sealed class IdentityDbInitializer(IServiceScopeFactory scopeFactory, SigningKeyStore signingKeys) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        await EnsureSchemaAsync(db, cancellationToken);
        await scope.ServiceProvider.GetRequiredService<AdminAccountSeeder>().SeedAsync(cancellationToken);
        await signingKeys.GetKeySetAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// EnsureCreated leaves an existing database as it is, and there are no migrations yet: one made before the
    /// columns below existed would fail on first use with an obscure SQL error, so say so at start instead.
    /// </summary>
    private static async Task RequireCurrentSchemaAsync(IdentityDbContext db, CancellationToken cancellationToken)
    {
        (string Table, string Column)[] newest =
        [
            ("SigningKeys", "ProtectedPrivateKey"), ("LoginThrottles", "NextLockMs"),
            ("RefreshTokenFamilies", "ClientId"), ("Users", "TokensRevokedBefore"), ("PasswordResetTokens", "TokenHash"),
            ("EmailVerificationTokens", "TokenHash"), ("Users", "EmailVerifiedAt"), ("TokenRevocations", "RevokedBefore"),
        ];
        var sqlite = db.Database.IsSqlite();
        foreach (var (table, column) in newest)
        {
            var found = await db.Database
                .SqlQuery<int>(sqlite
                    ? (FormattableString)$"SELECT COUNT(*) AS \"Value\" FROM pragma_table_info({table}) WHERE name = {column}"
                    : $"SELECT COUNT(*)::int AS \"Value\" FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = {table} AND column_name = {column}")
                .SingleAsync(cancellationToken);
            if (found == 0)
            {
                throw new InvalidOperationException(
                    $"The Identity database was created by an earlier version (table {table} has no column {column}) and cannot be upgraded in place: "
                    + "delete the development database file (and its identity-keys folder) to start afresh, or migrate it.");
            }
        }
    }

    /// <summary>The SQLite file's mode: read and write for the service's user only.</summary>
    public const UnixFileMode DatabaseFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Creates the SQLite file 0600 before SQLite does (it would follow the umask, commonly 0644); SQLite gives its
    /// journal files the mode of the database. An existing file that others may read is narrowed to 0600.
    /// </summary>
    internal static void RestrictDatabaseFile(string? connectionString)
    {
        var dataSource = new SqliteConnectionStringBuilder(connectionString).DataSource;
        if (OperatingSystem.IsWindows() || dataSource is "" or ":memory:" || dataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }
        try
        {
            using var created = new FileStream(dataSource, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = DatabaseFileMode,
            });
        }
        catch (IOException) when (File.Exists(dataSource))
        {
            if ((File.GetUnixFileMode(dataSource) & ~DatabaseFileMode) != 0)
            {
                File.SetUnixFileMode(dataSource, DatabaseFileMode);
            }
        }
    }

    internal static async Task EnsureSchemaAsync(IdentityDbContext db, CancellationToken cancellationToken)
    {
        if (!db.Database.IsSqlite())
        {
            // PostgreSQL: the shared set-up every service uses (creates the database if missing, then the tables under
            // an advisory lock, so instances starting together take turns).
            await ServiceDatabaseInitializer<IdentityDbContext>.EnsureSchemaAsync(db, cancellationToken);
            await RequireCurrentSchemaAsync(db, cancellationToken);
            return;
        }

        RestrictDatabaseFile(db.Database.GetConnectionString());

        // SQLite: BEGIN IMMEDIATE takes the write lock before looking, so instances starting together on one
        // file take turns: the first creates the tables, the others find them.
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await db.Database.EnsureCreatedAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await RequireCurrentSchemaAsync(db, cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }
}
