using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Portico.Ordering.Infrastructure;

/// <summary>Which engine <c>ConnectionStrings:orderingdb</c> is for, and how the context is set up for it.</summary>
public static class OrderingDatabase
{
    /// <summary>Name of the connection string (<c>ConnectionStrings:orderingdb</c>).</summary>
    public const string ConnectionStringName = "orderingdb";

    /// <summary>The connection string used when none is configured: a SQLite file in the working folder.</summary>
    public const string DefaultConnectionString = "Data Source=ordering.db";

    /// <summary>PostgreSQL when the connection string names a <c>Host</c> (or <c>Server</c>), SQLite otherwise.</summary>
    public static bool IsPostgres(string connectionString)
    {
        var parsed = new DbConnectionStringBuilder { ConnectionString = connectionString };
        return parsed.ContainsKey("Host") || parsed.ContainsKey("Server");
    }

    public static string GetConnectionString(IConfiguration configuration) =>
        configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } configured ? configured : DefaultConnectionString;

    public static void Configure(DbContextOptionsBuilder options, string connectionString)
    {
        if (IsPostgres(connectionString))
        {
            options.UseNpgsql(connectionString);
        }
        else
        {
            options.UseSqlite(connectionString);
        }
    }

    /// <summary>Whether saving failed on a unique index or primary key, on either engine.</summary>
    public static bool IsUniqueViolation(DbUpdateException e) => e.InnerException switch
    {
        SqliteException sqlite => sqlite.SqliteExtendedErrorCode is 2067 or 1555, // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
        PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UniqueViolation,
        _ => false,
    };
}
