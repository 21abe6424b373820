using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Portico.Loyalty.Infrastructure;

/// <summary>Which engine <c>ConnectionStrings:loyaltydb</c> is for, and how the context is set up for it.</summary>
public static class LoyaltyDatabase
{
    /// <summary>Name of the connection string (<c>ConnectionStrings:loyaltydb</c>).</summary>
    public const string ConnectionStringName = "loyaltydb";

    /// <summary>The connection string used when none is configured: a SQLite file in the working folder.</summary>
    public const string DefaultConnectionString = "Data Source=loyalty.db";

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
}
