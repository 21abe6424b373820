namespace Portico.Tests.Common;

/// <summary>
/// The shop's Catalog and Ordering as they run together: real hosts on their own Kestrel ports, one broker (the store
/// given) under a namespace of their own, on the databases the suite gives, trusting a <see cref="StandInIdentity"/>.
/// A suite starts what it tests beside them (Loyalty, a gateway) with <see cref="LoyaltySettings"/> and keeps only that.
/// </summary>
/// <typeparam name="TCatalog">Catalog's <c>Program</c> (each suite aliases the services: all declare a global Program).</typeparam>
/// <typeparam name="TOrdering">Ordering's <c>Program</c>.</typeparam>
public sealed class ShopServices<TCatalog, TOrdering> : IAsyncDisposable where TCatalog : class where TOrdering : class
{
    private ShopServices(StandInIdentity identity, string storeConnectionString, string ns, ServiceApp<TCatalog> catalog, ServiceApp<TOrdering> ordering)
    {
        Identity = identity;
        StoreConnectionString = storeConnectionString;
        Namespace = ns;
        Catalog = catalog;
        Ordering = ordering;
    }

    public StandInIdentity Identity { get; }

    public TestTokenIssuer Tokens => Identity.Tokens;

    public string StoreConnectionString { get; }

    /// <summary>The broker namespace the shop's events travel under.</summary>
    public string Namespace { get; }

    public ServiceApp<TCatalog> Catalog { get; }

    public ServiceApp<TOrdering> Ordering { get; }

    /// <summary>Starts Catalog, then Ordering pricing from it; both are listening when this returns.</summary>
    public static async Task<ShopServices<TCatalog, TOrdering>> StartAsync(string storeConnectionString, string catalogConnectionString, string orderingConnectionString)
    {
        var identity = await StandInIdentity.StartAsync(new TestTokenIssuer());
        var ns = "shop-tests-" + Guid.NewGuid().ToString("N")[..12];
        var catalog = new ServiceApp<TCatalog>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:catalogdb"] = catalogConnectionString,
            ["ConnectionStrings:store"] = storeConnectionString, // Catalog consumes order events (stock)
            ["Messaging:Namespace"] = ns,
        });
        var ordering = new ServiceApp<TOrdering>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:orderingdb"] = orderingConnectionString,
            ["ConnectionStrings:store"] = storeConnectionString,
            ["Messaging:Namespace"] = ns,
            ["Messaging:Outbox:PollInterval"] = "00:00:00.05",
            ["Portico:Jwt:JwksUrl"] = identity.JwksUrl,
            ["Ordering:CatalogUrl"] = catalog.Address.ToString(),
        });
        _ = ordering.Address;
        return new ShopServices<TCatalog, TOrdering>(identity, storeConnectionString, ns, catalog, ordering);
    }

    /// <summary>
    /// What Loyalty needs to join this shop: its broker and namespace, the key set, and for its reconciler Ordering's
    /// address and the service grant. A suite adds its own (database, reconciler schedule).
    /// </summary>
    public Dictionary<string, string?> LoyaltySettings() => new()
    {
        ["ConnectionStrings:store"] = StoreConnectionString,
        ["Messaging:Namespace"] = Namespace,
        ["Messaging:PollInterval"] = "00:00:00.05",
        ["Messaging:VisibilityTimeout"] = "00:00:03",
        ["Portico:Jwt:JwksUrl"] = Identity.JwksUrl,
        ["Loyalty:Reconciler:OrderingUrl"] = Ordering.Address.ToString(),
        ["Loyalty:Reconciler:TokenUrl"] = Identity.TokenUrl,
        ["Loyalty:Reconciler:ClientSecret"] = StandInIdentity.ServiceSecret,
    };

    /// <summary>A client of Ordering signed in as <paramref name="userId"/>.</summary>
    public HttpClient OrderingClientFor(string userId)
    {
        var client = Ordering.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", Tokens.CreateToken(userId));
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await Ordering.DisposeAsync();
        await Catalog.DisposeAsync();
        await Identity.DisposeAsync();
    }
}
