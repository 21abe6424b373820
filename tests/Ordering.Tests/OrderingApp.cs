extern alias CatalogService;

using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Portico.Ordering.Infrastructure;
using Portico.Tests.Common;

namespace Portico.Ordering.Tests;

/// <summary>A service on a real Kestrel port (127.0.0.1:0), against the SQLite file and settings it is given.</summary>
public class ServiceApp<TEntryPoint> : WebApplicationFactory<TEntryPoint> where TEntryPoint : class
{
    private readonly IReadOnlyDictionary<string, string?> _settings;

    public ServiceApp(string databasePath, IReadOnlyDictionary<string, string?> settings)
    {
        DatabasePath = databasePath;
        _settings = settings;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
    }

    public string DatabasePath { get; }

    /// <summary>Base address of the running server, e.g. <c>http://127.0.0.1:41234/</c>; the server starts on first use.</summary>
    public Uri Address
    {
        get
        {
            StartServer();
            var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            return new Uri(address.EndsWith('/') ? address : address + "/");
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(_settings));
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.ConfigureLogging(logging => logging.ClearProviders());
        }
    }

    /// <summary>A fresh path in the temp folder; nothing is created until a server starts.</summary>
    public static string NewDatabasePath(string service) => Path.Combine(Path.GetTempPath(), $"portico-{service}-{Guid.NewGuid():N}.db");

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

/// <summary>
/// Ordering on real Kestrel with everything it talks to: the real Catalog (in-process, its own database) unless a
/// test gives another Catalog address, and a stand-in Identity serving the key set of <see cref="Tokens"/>.
/// Retries to Catalog are quick so that "Catalog down" answers in milliseconds.
/// </summary>
public sealed class OrderingFixture : IAsyncLifetime
{
    private TestBackend _identity = null!;
    private ServiceApp<CatalogService::Program>? _catalog;

    public TestTokenIssuer Tokens { get; } = new();

    /// <summary>Catalog address to use instead of starting the real one.</summary>
    public Uri? CatalogUrl { get; init; }

    /// <summary>Settings added to Ordering's.</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    public ServiceApp<Program> App { get; private set; } = null!;

    /// <summary>The real Catalog, for reading prices as any client would.</summary>
    public HttpClient Catalog { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        _identity = await TestBackend.StartAsync("identity", app =>
            app.MapGet("/.well-known/jwks.json", () => Results.Text(Tokens.JwksJson, "application/json")));

        var catalogUrl = CatalogUrl;
        if (catalogUrl is null)
        {
            var catalogDb = ServiceApp<Program>.NewDatabasePath("catalog");
            _catalog = new ServiceApp<CatalogService::Program>(catalogDb, new Dictionary<string, string?> { ["ConnectionStrings:catalogdb"] = $"Data Source={catalogDb}" });
            catalogUrl = _catalog.Address;
        }
        Catalog = new HttpClient { BaseAddress = catalogUrl };

        var orderingDb = ServiceApp<Program>.NewDatabasePath("ordering");
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:orderingdb"] = $"Data Source={orderingDb}",
            ["Portico:Jwt:JwksUrl"] = new Uri(_identity.Address, "/.well-known/jwks.json").ToString(),
            ["Ordering:CatalogUrl"] = catalogUrl.ToString(),
            ["Ordering:CatalogResilience:Retry:MaxRetryAttempts"] = "1",
            ["Ordering:CatalogResilience:Retry:Delay"] = "00:00:00.010",
        };
        foreach (var (key, value) in Settings)
        {
            settings[key] = value;
        }
        App = new ServiceApp<Program>(orderingDb, settings);
        _ = App.Address; // start now, so a broken start fails the fixture rather than a test
    }

    public async ValueTask DisposeAsync()
    {
        Catalog.Dispose();
        await App.DisposeAsync();
        ServiceApp<Program>.DeleteDatabase(App.DatabasePath);
        if (_catalog is not null)
        {
            await _catalog.DisposeAsync();
            ServiceApp<Program>.DeleteDatabase(_catalog.DatabasePath);
        }
        await _identity.DisposeAsync();
    }

    /// <summary>A user id no other test uses.</summary>
    public static string NewUserId() => "user-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A client of Ordering signed in as <paramref name="userId"/>.</summary>
    public HttpClient ClientFor(string userId)
    {
        var client = new HttpClient { BaseAddress = App.Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.CreateToken(userId));
        return client;
    }

    /// <summary>A client of Ordering with no token.</summary>
    public HttpClient AnonymousClient() => new() { BaseAddress = App.Address };

    /// <summary>What Ordering stored for a user: orders, outbox rows about them, idempotency records.</summary>
    public async Task<StoredRows> RowsOfAsync(string userId)
    {
        await using var scope = App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
        var orders = await db.Orders.AsNoTracking().Where(o => o.UserId == userId).Include(o => o.Lines).ToListAsync();
        var outbox = (await db.Outbox.AsNoTracking().ToListAsync())
            .Where(m => m.Payload.Contains($"\"userId\":\"{userId}\"", StringComparison.Ordinal)).ToList();
        var keys = await db.IdempotencyRecords.AsNoTracking().Where(r => r.UserId == userId).ToListAsync();
        return new StoredRows(orders, outbox, keys);
    }
}

public sealed record StoredRows(
    List<Portico.Ordering.Model.Order> Orders,
    List<Portico.Ordering.Model.OutboxMessage> Outbox,
    List<Portico.Ordering.Model.IdempotencyRecord> IdempotencyRecords)
{
    public bool IsEmpty => Orders.Count == 0 && Outbox.Count == 0 && IdempotencyRecords.Count == 0;
}
