extern alias CatalogService;
extern alias OrderingService;

using System.Net.Http.Headers;
using Portico.Tests.Common;

namespace Portico.Loyalty.Tests;

/// <summary>
/// Real Catalog, Ordering and Loyalty hosts on one embedded Garnet broker (their own namespace): the shop as
/// <see cref="ShopServices{TCatalog, TOrdering}"/> runs it, with Loyalty joined to it on the engine, clock and settings
/// a test class chooses.
/// </summary>
public class ShopFixture : IAsyncLifetime
{
    private ServiceTestDatabase? _catalogDb;
    private ServiceTestDatabase? _orderingDb;
    private ShopServices<CatalogService::Program, OrderingService::Program>? _services;

    public TestTokenIssuer Tokens => _services!.Tokens;

    /// <summary>Loyalty's clock; null for the system clock.</summary>
    protected virtual TimeProvider? LoyaltyTime => null;

    /// <summary>The engine of all three services' databases.</summary>
    protected virtual DatabaseEngine Engine => DatabaseEngine.Sqlite;

    protected virtual IReadOnlyDictionary<string, string?> LoyaltySettings => new Dictionary<string, string?>();

    public ServiceApp<OrderingService::Program> Ordering => _services!.Ordering;

    public LoyaltyFixture Loyalty { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (!ServiceTestDatabase.IsAvailable(Engine))
        {
            return; // PostgreSQL is not configured: nothing starts, and the tests skip (PostgresTestDatabase.Required).
        }
        _catalogDb = await ServiceTestDatabase.CreateAsync(Engine, "catalog");
        _orderingDb = await ServiceTestDatabase.CreateAsync(Engine, "ordering");
        _services = await ShopServices<CatalogService::Program, OrderingService::Program>.StartAsync(
            SharedStore.ConnectionString, _catalogDb.ConnectionString, _orderingDb.ConnectionString);

        var loyalty = _services.LoyaltySettings();
        foreach (var (key, value) in LoyaltySettings)
        {
            loyalty[key] = value;
        }
        Loyalty = new LoyaltyFixture { Engine = Engine, Settings = loyalty, Time = LoyaltyTime, Tokens = Tokens, JwksUrl = _services.Identity.JwksUrl };
        await Loyalty.InitializeAsync();
        _ = Loyalty.App.HttpAddress;
    }

    /// <summary>A client of Ordering signed in as <paramref name="userId"/>.</summary>
    public HttpClient OrderingClientFor(string userId) => _services!.OrderingClientFor(userId);

    /// <summary>An admin's client of Loyalty's HTTP endpoint.</summary>
    public HttpClient LoyaltyAdmin()
    {
        var client = new HttpClient { BaseAddress = Loyalty.App.HttpAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.CreateToken("admin-1", roles: ["admin"]));
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (_services is not null)
        {
            await Loyalty.DisposeAsync();
            await _services.DisposeAsync();
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
