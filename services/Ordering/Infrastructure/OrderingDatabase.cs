namespace Portico.Ordering.Infrastructure;

/// <summary>Where Ordering's database is configured; engine choice and set-up are in <c>Portico.Data.ServiceDatabase</c>.</summary>
public static class OrderingDatabase
{
    /// <summary>Name of the connection string (<c>ConnectionStrings:orderingdb</c>).</summary>
    public const string ConnectionStringName = "orderingdb";

    /// <summary>The connection string used when none is configured: a SQLite file in the working folder.</summary>
    public const string DefaultConnectionString = "Data Source=ordering.db";
}
