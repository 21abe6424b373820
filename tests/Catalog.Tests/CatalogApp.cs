using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Portico.Catalog.Tests;

/// <summary>The Catalog service on a real Kestrel port (127.0.0.1:0), against the SQLite file it is given.</summary>
public sealed class CatalogApp : WebApplicationFactory<Program>
{
    public CatalogApp(string databasePath)
    {
        DatabasePath = databasePath;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
    }

    public string DatabasePath { get; }

    public string ConnectionString => $"Data Source={DatabasePath}";

    /// <summary>Base address of the running server, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Address
    {
        get
        {
            StartServer();
            var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            return new Uri(address.EndsWith('/') ? address : address + "/");
        }
    }

    /// <summary>A plain client over TCP to the Kestrel port; the server starts on first use.</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = Address };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:catalogdb"] = ConnectionString,
        }));
        builder.ConfigureLogging(logging => logging.ClearProviders());
    }

    /// <summary>A fresh path in the temp folder; nothing is created until a server starts.</summary>
    public static string NewDatabasePath() => Path.Combine(Path.GetTempPath(), $"portico-catalog-{Guid.NewGuid():N}.db");

    /// <summary>Deletes a database file and its journal files, closing pooled connections first.</summary>
    public static void DeleteDatabase(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-journal", path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
    }
}

/// <summary>One running Catalog with its own temp database per test class.</summary>
public sealed class CatalogFixture : IAsyncLifetime
{
    public CatalogApp App { get; } = new(CatalogApp.NewDatabasePath());

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
        CatalogApp.DeleteDatabase(App.DatabasePath);
    }
}
