extern alias CatalogService;
extern alias OrderingService;

using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Tests.Common;

namespace Portico.Loyalty.Tests;

/// <summary>
/// Real Catalog, Ordering and Loyalty hosts on one embedded Garnet broker (their own namespace), with a stand-in
/// Identity that serves the key set and, for Loyalty's reconciler, the client_credentials grant (a service token).
/// </summary>
public class ShopFixture : IAsyncLifetime
{
    public const string LoyaltySecret = "loyalty-test-secret-0123456789-abcdefghijklmnop";

    private TestBackend _identity = null!;
    private ServiceApp<CatalogService::Program> _catalog = null!;
    private ServiceTestDatabase? _catalogDb;
    private ServiceTestDatabase? _orderingDb;

    public TestTokenIssuer Tokens { get; } = new();

    /// <summary>Loyalty's clock; null for the system clock.</summary>
    protected virtual TimeProvider? LoyaltyTime => null;

    /// <summary>The engine of all three services' databases.</summary>
    protected virtual DatabaseEngine Engine => DatabaseEngine.Sqlite;

    protected virtual IReadOnlyDictionary<string, string?> LoyaltySettings => new Dictionary<string, string?>();

    public ServiceApp<OrderingService::Program> Ordering { get; private set; } = null!;

    public LoyaltyFixture Loyalty { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (!ServiceTestDatabase.IsAvailable(Engine))
        {
            return; // PostgreSQL is not configured: nothing starts, and the tests skip (PostgresTestDatabase.Required).
        }
        _catalogDb = await ServiceTestDatabase.CreateAsync(Engine, "catalog");
        _orderingDb = await ServiceTestDatabase.CreateAsync(Engine, "ordering");
        var ns = "shop-tests-" + Guid.NewGuid().ToString("N")[..12];
        _identity = await TestBackend.StartAsync("identity", app =>
        {
            app.MapGet("/.well-known/jwks.json", () => Results.Text(Tokens.JwksJson, "application/json"));
            app.MapPost("/api/auth/token", async (HttpRequest request) =>
            {
                var body = await request.ReadFromJsonAsync<Dictionary<string, string>>();
                return body is not null && body.GetValueOrDefault("grant_type") == "client_credentials" && body.GetValueOrDefault("client_secret") == LoyaltySecret
                    ? Results.Json(new Dictionary<string, object> { ["access_token"] = Tokens.CreateToken("client:" + body["client_id"], roles: ["service"]), ["expires_in"] = 900 })
                    : Results.Unauthorized();
            });
        });
        var jwks = new Uri(_identity.Address, "/.well-known/jwks.json").ToString();

        _catalog = new ServiceApp<CatalogService::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:catalogdb"] = _catalogDb.ConnectionString,
            ["ConnectionStrings:store"] = SharedStore.ConnectionString, // Catalog consumes order events (stock)
            ["Messaging:Namespace"] = ns,
        });

        Ordering = new ServiceApp<OrderingService::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:orderingdb"] = _orderingDb.ConnectionString,
            ["ConnectionStrings:store"] = SharedStore.ConnectionString,
            ["Messaging:Namespace"] = ns,
            ["Messaging:Outbox:PollInterval"] = "00:00:00.05",
            ["Portico:Jwt:JwksUrl"] = jwks,
            ["Ordering:CatalogUrl"] = _catalog.Address.ToString(),
        });
        _ = Ordering.Address;

        var loyalty = new Dictionary<string, string?>
        {
            ["Messaging:Namespace"] = ns,
            ["Loyalty:Reconciler:OrderingUrl"] = Ordering.Address.ToString(),
            ["Loyalty:Reconciler:TokenUrl"] = new Uri(_identity.Address, "/api/auth/token").ToString(),
            ["Loyalty:Reconciler:ClientSecret"] = LoyaltySecret,
        };
        foreach (var (key, value) in LoyaltySettings)
        {
            loyalty[key] = value;
        }
        Loyalty = new LoyaltyFixture { Engine = Engine, Settings = loyalty, Time = LoyaltyTime, Tokens = Tokens, JwksUrl = jwks };
        await Loyalty.InitializeAsync();
        _ = Loyalty.App.HttpAddress;
    }

    /// <summary>A client of Ordering signed in as <paramref name="userId"/>.</summary>
    public HttpClient OrderingClientFor(string userId)
    {
        var client = new HttpClient { BaseAddress = Ordering.Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.CreateToken(userId));
        return client;
    }

    /// <summary>An admin's client of Loyalty's HTTP endpoint.</summary>
    public HttpClient LoyaltyAdmin()
    {
        var client = new HttpClient { BaseAddress = Loyalty.App.HttpAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.CreateToken("admin-1", roles: ["admin"]));
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (_identity is not null)
        {
            await Loyalty.DisposeAsync();
            await Ordering.DisposeAsync();
            await _catalog.DisposeAsync();
            await _identity.DisposeAsync();
        }
        if (_orderingDb is not null)
        {
            await _orderingDb.DisposeAsync();
        }
        if (_catalogDb is not null)
        {
            await _catalogDb.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or the deadline passes.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(20)).TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (!await condition())
        {
            Assert.True(TimeProvider.System.GetTimestamp() < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
    }
}
