using Portico.Tests.Common;

namespace Portico.Catalog.Tests;

/// <summary>
/// The Catalog service on a real Kestrel port (127.0.0.1:0), against the SQLite file it is given or, made with
/// <see cref="On"/>, a database on either engine. Catalog consumes order events, so it needs a broker: the store is
/// <see cref="TestStore.Shared"/> unless the settings name another.
/// </summary>
public sealed class CatalogApp : ServiceApp<Program>
{
    public CatalogApp(string databasePath, IReadOnlyDictionary<string, string?>? settings = null)
        : this($"Data Source={databasePath}", databasePath, settings)
    {
    }

    private CatalogApp(string connectionString, string? databasePath, IReadOnlyDictionary<string, string?>? settings)
        : base(With(connectionString, settings))
    {
        ConnectionString = connectionString;
        DatabasePath = databasePath;
    }

    /// <summary>The SQLite file, or null on PostgreSQL.</summary>
    public string? DatabasePath { get; }

    public string ConnectionString { get; }

    /// <summary>Catalog on <paramref name="database"/> (SQLite or PostgreSQL).</summary>
    public static CatalogApp On(ServiceTestDatabase database, IReadOnlyDictionary<string, string?>? settings = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        return database.SqlitePath is { } path ? new CatalogApp(path, settings) : new CatalogApp(database.ConnectionString, null, settings);
    }

    private static Dictionary<string, string?> With(string connectionString, IReadOnlyDictionary<string, string?>? settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["ConnectionStrings:catalogdb"] = connectionString,
            ["ConnectionStrings:store"] = TestStore.Shared.ConnectionString,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }
        return all;
    }
}

/// <summary>
/// One embedded store (Garnet) for the Catalog instances of tests that do not look at messages: they all consume the
/// empty <c>catalog</c> queue there. Tests of the stock events start a store of their own.
/// </summary>
public static class TestStore
{
    private static readonly Lazy<GarnetTestServer> Store = new(GarnetTestServer.Start);

    public static GarnetTestServer Shared => Store.Value;
}

/// <summary>One running Catalog with its own temp database per test class.</summary>
public sealed class CatalogFixture : IAsyncLifetime
{
    public CatalogApp App { get; } = new(TestDatabases.NewPath("catalog"));

    public HttpClient Client { get; private set; } = null!;

    public ValueTask InitializeAsync()
    {
        Client = App.CreateHttpClient();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
        TestDatabases.Delete(App.DatabasePath!);
    }
}
