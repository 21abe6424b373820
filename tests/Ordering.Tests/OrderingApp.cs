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

/// <summary>
/// Ordering on real Kestrel with everything it talks to: the real Catalog (in-process, its own database) unless a
/// test gives another Catalog address, a stand-in Identity serving the key set of <see cref="Tokens"/>, and an
/// embedded store (Garnet) as both services' broker, so the stock saga runs as in the shop (both consume, so both
/// need one). Retries to Catalog are quick so that "Catalog down" answers in milliseconds.
/// </summary>
public class OrderingFixture : IAsyncLifetime
{
    private TestBackend _identity = null!;
    private ServiceApp<CatalogService::Program>? _catalog;
    private ServiceTestDatabase? _catalogDb;
    private ServiceTestDatabase _orderingDb = null!;
    private GarnetTestServer? _store;

    /// <summary>The engine of Ordering's database and of the real Catalog's (when the fixture starts it).</summary>
    public DatabaseEngine Engine { get; init; }

    public TestTokenIssuer Tokens { get; } = new();

    /// <summary>Catalog address to use instead of starting the real one.</summary>
    public Uri? CatalogUrl { get; init; }

    /// <summary>Settings added to Ordering's.</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>Settings added to Catalog's.</summary>
    public IReadOnlyDictionary<string, string?> CatalogSettings { get; init; } = new Dictionary<string, string?>();

    /// <summary>The store both services use as their broker; when null, the fixture starts one of its own.</summary>
    public string? StoreConnectionString { get; init; }

    /// <summary>The real Catalog's services (its database), when the fixture started it.</summary>
    public IServiceProvider? CatalogServices => _catalog?.Services;

    public ServiceApp<Program> App { get; private set; } = null!;

    /// <summary>Ordering's SQLite file (null on PostgreSQL).</summary>
    public string? OrderingDatabasePath => _orderingDb.SqlitePath;

    /// <summary>A client of Ordering with a service client's token (role <c>service</c>, as Identity's client_credentials grant gives).</summary>
    public HttpClient ServiceClient(string role = "service")
    {
        var client = new HttpClient { BaseAddress = App.Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.CreateToken("client:loyalty", roles: [role]));
        return client;
    }

    /// <summary>The real Catalog, for reading prices as any client would.</summary>
    public HttpClient Catalog { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (!ServiceTestDatabase.IsAvailable(Engine))
        {
            return; // PostgreSQL is not configured: nothing starts, and the tests skip (PostgresTestDatabase.Required).
        }
        _catalogDb = CatalogUrl is null ? await ServiceTestDatabase.CreateAsync(Engine, "catalog") : null;
        _orderingDb = await ServiceTestDatabase.CreateAsync(Engine, "ordering");
        _identity = await TestBackend.StartAsync("identity", app =>
            app.MapGet("/.well-known/jwks.json", () => Results.Text(Tokens.JwksJson, "application/json")));

        var store = StoreConnectionString;
        if (store is null)
        {
            _store = GarnetTestServer.Start();
            store = _store.ConnectionString;
        }

        var catalogUrl = CatalogUrl;
        if (catalogUrl is null)
        {
            var catalogSettings = new Dictionary<string, string?>
            {
                ["ConnectionStrings:catalogdb"] = _catalogDb!.ConnectionString,
                ["ConnectionStrings:store"] = store,
            };
            foreach (var (key, value) in CatalogSettings)
            {
                catalogSettings[key] = value;
            }
            _catalog = new ServiceApp<CatalogService::Program>(catalogSettings);
            catalogUrl = _catalog.Address;
        }
        Catalog = new HttpClient { BaseAddress = catalogUrl };

        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:orderingdb"] = _orderingDb.ConnectionString,
            ["Portico:Jwt:JwksUrl"] = new Uri(_identity.Address, "/.well-known/jwks.json").ToString(),
            ["Ordering:CatalogUrl"] = catalogUrl.ToString(),
            ["Ordering:CatalogResilience:Retry:MaxRetryAttempts"] = "1",
            ["Ordering:CatalogResilience:Retry:Delay"] = "00:00:00.010",
            ["ConnectionStrings:store"] = store,
        };
        foreach (var (key, value) in Settings)
        {
            settings[key] = value;
        }
        App = new ServiceApp<Program>(settings);
        _ = App.Address; // start now, so a broken start fails the fixture rather than a test
    }

    public async ValueTask DisposeAsync()
    {
        if (_identity is null)
        {
            // Not started (no PostgreSQL) or failed while creating the databases; nothing else started.
            if (_catalogDb is not null)
            {
                await _catalogDb.DisposeAsync();
            }
            return;
        }
        Catalog.Dispose();
        await App.DisposeAsync();
        await _orderingDb.DisposeAsync();
        if (_catalog is not null)
        {
            await _catalog.DisposeAsync();
        }
        if (_catalogDb is not null)
        {
            await _catalogDb.DisposeAsync();
        }
        await _identity.DisposeAsync();
        _store?.Dispose();
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

/// <summary>The same shop with Ordering's and Catalog's databases on PostgreSQL.</summary>
public sealed class PostgresOrderingFixture : OrderingFixture
{
    public PostgresOrderingFixture() => Engine = DatabaseEngine.Postgres;
}

public sealed record StoredRows(
    List<Portico.Ordering.Model.Order> Orders,
    List<Portico.Messaging.Outbox.OutboxMessage> Outbox,
    List<Portico.Ordering.Model.IdempotencyRecord> IdempotencyRecords)
{
    public bool IsEmpty => Orders.Count == 0 && Outbox.Count == 0 && IdempotencyRecords.Count == 0;
}
