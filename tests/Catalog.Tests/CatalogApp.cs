using Portico.Tests.Common;

namespace Portico.Catalog.Tests;

/// <summary>The Catalog service on a real Kestrel port (127.0.0.1:0), against the SQLite file it is given.</summary>
public sealed class CatalogApp(string databasePath) : ServiceApp<Program>(new Dictionary<string, string?>
{
    ["ConnectionStrings:catalogdb"] = $"Data Source={databasePath}",
})
{
    public string DatabasePath { get; } = databasePath;

    public string ConnectionString => $"Data Source={DatabasePath}";
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
