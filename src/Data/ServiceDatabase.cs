using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Portico.Data;

/// <summary>
/// A service database is SQLite by default (one file, no server) and PostgreSQL when deployed with one;
/// the connection string alone says which, so services need no provider setting.
/// </summary>
public static class ServiceDatabase
{
    /// <summary>PostgreSQL when the connection string names a <c>Host</c> (or <c>Server</c>), SQLite otherwise.</summary>
    public static bool IsPostgres(string connectionString)
    {
        var parsed = new DbConnectionStringBuilder { ConnectionString = connectionString };
        return parsed.ContainsKey("Host") || parsed.ContainsKey("Server");
    }

    /// <summary>Sets the context up for the engine <paramref name="connectionString"/> is for.</summary>
    public static void Configure(DbContextOptionsBuilder options, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (IsPostgres(connectionString))
        {
            options.UseNpgsql(connectionString);
        }
        else
        {
            options.UseSqlite(connectionString);
        }
    }

    /// <summary>Whether saving failed on a unique index or primary key, on either engine (how idempotent writes detect a repeat).</summary>
    public static bool IsUniqueViolation(DbUpdateException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.InnerException switch
        {
            SqliteException sqlite => sqlite.SqliteExtendedErrorCode is 2067 or 1555, // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
            PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UniqueViolation,
            _ => false,
        };
    }
}
