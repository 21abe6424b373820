using Portico.Tests.Common;

namespace Portico.Catalog.Tests;

/// <summary>
/// The Catalog service on a real Kestrel port (127.0.0.1:0), against the SQLite file it is given. Catalog consumes
/// order events, so it needs a broker: the store is <see cref="TestStore.Shared"/> unless the settings name another.
/// </summary>
public sealed class CatalogApp(string databasePath, IReadOnlyDictionary<string, string?>? settings = null) : ServiceApp<Program>(With(databasePath, settings))
{
    public string DatabasePath { get; } = databasePath;

    public string ConnectionString => $"Data Source={DatabasePath}";

    private static Dictionary<string, string?> With(string databasePath, IReadOnlyDictionary<string, string?>? settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["ConnectionStrings:catalogdb"] = $"Data Source={databasePath}",
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
        TestDatabases.Delete(App.DatabasePath);
    }
}
