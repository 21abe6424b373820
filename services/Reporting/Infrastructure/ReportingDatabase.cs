namespace Portico.Reporting.Infrastructure;

/// <summary>Where Reporting's database is configured; engine choice and set-up are in <c>Portico.Data.ServiceDatabase</c>.</summary>
public static class ReportingDatabase
{
    /// <summary>Name of the connection string (<c>ConnectionStrings:reportingdb</c>).</summary>
    public const string ConnectionStringName = "reportingdb";

    /// <summary>The connection string used when none is configured: a SQLite file in the working folder.</summary>
    public const string DefaultConnectionString = "Data Source=reporting.db";
}
