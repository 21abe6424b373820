namespace Portico.Loyalty.Infrastructure;

/// <summary>Where Loyalty's database is configured; engine choice and set-up are in <c>Portico.Data.ServiceDatabase</c>.</summary>
public static class LoyaltyDatabase
{
    /// <summary>Name of the connection string (<c>ConnectionStrings:loyaltydb</c>).</summary>
    public const string ConnectionStringName = "loyaltydb";

    /// <summary>The connection string used when none is configured: a SQLite file in the working folder.</summary>
    public const string DefaultConnectionString = "Data Source=loyalty.db";

    /// <summary>Busy timeout and the 503's <c>Retry-After</c> while the database is busy or unavailable (<c>Portico.Data.DatabaseFaultOptions</c>).</summary>
    public const string FaultsSection = "Loyalty:Database";
}
