namespace Portico.Catalog.Infrastructure;

/// <summary>Where Catalog's database is configured; engine choice and set-up are in <c>Portico.Data.ServiceDatabase</c>.</summary>
public static class CatalogDatabase
{
    /// <summary>Name of the connection string (<c>ConnectionStrings:catalogdb</c>).</summary>
    public const string ConnectionStringName = "catalogdb";

    /// <summary>The connection string used when none is configured: a SQLite file in the working folder.</summary>
    public const string DefaultConnectionString = "Data Source=catalog.db";
}
